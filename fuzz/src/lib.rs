//! Helpers shared by the fuzz targets.
//!
//! Stream code must give the same answer however the network cuts the bytes, so the
//! stream targets take their chunk boundaries from the input itself: the first byte
//! seeds the chunk sizes, the rest is the body. libFuzzer then explores boundaries and
//! content together, and a crashing input replays with the exact same chunks.

/// Splits `data` into `(seed, chunks)`: the first byte chooses the chunk sizes
/// (single bytes, small, medium or the whole rest), the remaining bytes are cut by them.
/// Concatenating the chunks gives back `data[1..]`.
pub fn chunks(data: &[u8]) -> Vec<&[u8]> {
    let Some((&seed, mut body)) = data.split_first() else {
        return Vec::new();
    };
    let mut state = u32::from(seed) | 0x100;
    let mut out = Vec::new();
    while !body.is_empty() {
        // A small LCG: deterministic for a given seed byte, varied across seeds.
        state = state.wrapping_mul(1_103_515_245).wrapping_add(12_345);
        let r = (state >> 16) as usize;
        let size = match r % 4 {
            0 => 1,
            1 => 1 + (r >> 2) % 8,
            2 => 1 + (r >> 2) % 64,
            _ => body.len(),
        };
        let (head, tail) = body.split_at(size.min(body.len()));
        out.push(head);
        body = tail;
    }
    out
}

/// Serialises a value as the gateway does before sending it; the result is discarded:
/// only a panic matters.
pub fn serialize<T: serde::Serialize>(value: &T) {
    let _ = serde_json::to_vec(value);
}

#[cfg(test)]
mod tests {
    use super::chunks;

    #[test]
    fn chunks_cover_the_body_in_order() {
        let data: Vec<u8> = (0..=255u8).collect();
        for seed in 0..=255u8 {
            let mut input = vec![seed];
            input.extend_from_slice(&data);
            let joined: Vec<u8> = chunks(&input).concat();
            assert_eq!(joined, data, "seed {seed}");
        }
        assert!(chunks(&[]).is_empty());
        assert!(chunks(&[7]).is_empty());
    }
}
