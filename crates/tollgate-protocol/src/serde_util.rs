//! Small serde helpers shared by the wire types.

/// Unknown fields of a wire object, kept so that a parsed request forwarded to a
/// same-format upstream loses nothing.
pub type Extra = serde_json::Map<String, serde_json::Value>;

/// Declares a string enum whose unknown values are kept in `Other(String)` instead of
/// failing: vendors add values (new stop reasons, roles) faster than we release, and a
/// response must not become unparseable because of one. Validation decides which values
/// a request may carry.
macro_rules! string_enum {
    (
        $(#[$meta:meta])*
        pub enum $name:ident {
            $( $(#[$vmeta:meta])* $variant:ident => $s:literal ),* $(,)?
        }
    ) => {
        $(#[$meta])*
        #[derive(Debug, Clone, PartialEq, Eq, Hash)]
        pub enum $name {
            $( $(#[$vmeta])* $variant, )*
            /// A value this crate does not know, kept verbatim.
            Other(String),
        }

        impl $name {
            /// The wire spelling.
            pub fn as_str(&self) -> &str {
                match self {
                    $( Self::$variant => $s, )*
                    Self::Other(s) => s,
                }
            }
        }

        impl From<&str> for $name {
            fn from(s: &str) -> Self {
                match s {
                    $( $s => Self::$variant, )*
                    other => Self::Other(other.to_owned()),
                }
            }
        }

        impl std::fmt::Display for $name {
            fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
                f.write_str(self.as_str())
            }
        }

        impl serde::Serialize for $name {
            fn serialize<S: serde::Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
                s.serialize_str(self.as_str())
            }
        }

        impl<'de> serde::Deserialize<'de> for $name {
            fn deserialize<D: serde::Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
                let s = <std::borrow::Cow<'de, str>>::deserialize(d)?;
                Ok(Self::from(s.as_ref()))
            }
        }
    };
}

pub(crate) use string_enum;

/// Type name of a raw JSON object (`{"type": ...}`), for messages about kept-raw values.
pub(crate) fn type_name(v: &serde_json::Value) -> &str {
    v.get("type")
        .and_then(serde_json::Value::as_str)
        .unwrap_or("(none)")
}
