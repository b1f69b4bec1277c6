//! A chat request and the door it came through: shared by every phase of the chat
//! route kind (parsing, estimation, translation, relaying) without tying them to the
//! orchestration in [`crate::pipeline`].

use tollgate_core::Door;

pub use tollgate_protocol::DoorRequest;

/// The door a parsed request came through.
pub fn door_of(request: &DoorRequest) -> Door {
    match request {
        DoorRequest::OpenAi(_) => Door::OpenAi,
        DoorRequest::Anthropic(_) => Door::Anthropic,
    }
}
