//! Messages request types (`POST /v1/messages`). Unknown fields are kept in `extra` and
//! `None` fields skipped, so a request forwarded to Anthropic is the one the client sent.

use serde::{Deserialize, Deserializer, Serialize, Serializer};
use serde_json::Value;

use crate::serde_util::{Extra, string_enum};

/// A Messages request as the Anthropic door receives it.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct MessagesRequest {
    pub model: String,
    /// Required by Anthropic; `Option` so that a missing value is a precise
    /// validation error rather than a generic parse failure.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub max_tokens: Option<u32>,
    pub messages: Vec<Message>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub system: Option<System>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub stop_sequences: Option<Vec<String>>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub temperature: Option<f64>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub top_p: Option<f64>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub top_k: Option<u32>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub stream: Option<bool>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub tools: Option<Vec<Tool>>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub tool_choice: Option<ToolChoice>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub metadata: Option<Metadata>,
    #[serde(flatten)]
    pub extra: Extra,
}

impl MessagesRequest {
    pub fn is_stream(&self) -> bool {
        self.stream.unwrap_or(false)
    }
}

#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct Metadata {
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub user_id: Option<String>,
    #[serde(flatten)]
    pub extra: Extra,
}

string_enum! {
    /// Author of a message; Anthropic has only these two (system is top-level).
    pub enum Role {
        User => "user",
        Assistant => "assistant",
    }
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Message {
    pub role: Role,
    pub content: Content,
    #[serde(flatten)]
    pub extra: Extra,
}

impl Message {
    pub fn new(role: Role, content: Vec<ContentBlock>) -> Self {
        Self {
            role,
            content: Content::Blocks(content),
            extra: Extra::new(),
        }
    }

    pub fn user_text(text: impl Into<String>) -> Self {
        Self {
            role: Role::User,
            content: Content::Text(text.into()),
            extra: Extra::new(),
        }
    }

    pub fn assistant_text(text: impl Into<String>) -> Self {
        Self {
            role: Role::Assistant,
            content: Content::Text(text.into()),
            extra: Extra::new(),
        }
    }
}

/// Content of a message (or of a tool result): a string or blocks.
#[derive(Debug, Clone, PartialEq, Serialize)]
#[serde(untagged)]
pub enum Content {
    Text(String),
    Blocks(Vec<ContentBlock>),
}

impl Content {
    /// The content as blocks (a string becomes one text block, none when empty).
    pub fn to_blocks(&self) -> Vec<ContentBlock> {
        match self {
            Self::Text(s) if s.is_empty() => Vec::new(),
            Self::Text(s) => vec![ContentBlock::text(s.clone())],
            Self::Blocks(b) => b.clone(),
        }
    }
}

// Hand-written for a clear error instead of serde's untagged "did not match any variant".
impl<'de> Deserialize<'de> for Content {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        use serde::de::Error;
        match Value::deserialize(d)? {
            Value::String(s) => Ok(Self::Text(s)),
            v @ Value::Array(_) => serde_json::from_value(v)
                .map(Self::Blocks)
                .map_err(D::Error::custom),
            _ => Err(D::Error::custom(
                "content must be a string or an array of content blocks",
            )),
        }
    }
}

/// A content block. Thinking, documents, server tool blocks and anything newer are kept
/// raw in `Other` (as are malformed known blocks), so they forward unchanged to Anthropic.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(tag = "type", rename_all = "snake_case")]
pub enum ContentBlock {
    Text(TextBlock),
    Image(ImageBlock),
    ToolUse(ToolUseBlock),
    ToolResult(ToolResultBlock),
    #[serde(untagged)]
    Other(Value),
}

impl ContentBlock {
    pub fn text(text: impl Into<String>) -> Self {
        Self::Text(TextBlock {
            text: text.into(),
            extra: Extra::new(),
        })
    }

    pub fn tool_use(id: impl Into<String>, name: impl Into<String>, input: Value) -> Self {
        Self::ToolUse(ToolUseBlock {
            id: id.into(),
            name: name.into(),
            input,
            extra: Extra::new(),
        })
    }

    pub fn tool_result(tool_use_id: impl Into<String>, content: Option<Content>) -> Self {
        Self::ToolResult(ToolResultBlock {
            tool_use_id: tool_use_id.into(),
            content,
            is_error: None,
            extra: Extra::new(),
        })
    }
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct TextBlock {
    pub text: String,
    #[serde(flatten)]
    pub extra: Extra,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct ImageBlock {
    pub source: ImageSource,
    #[serde(flatten)]
    pub extra: Extra,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(tag = "type", rename_all = "snake_case")]
pub enum ImageSource {
    Base64 {
        media_type: String,
        data: String,
    },
    Url {
        url: String,
    },
    #[serde(untagged)]
    Other(Value),
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct ToolUseBlock {
    pub id: String,
    pub name: String,
    /// The arguments as a JSON object.
    #[serde(default)]
    pub input: Value,
    #[serde(flatten)]
    pub extra: Extra,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct ToolResultBlock {
    pub tool_use_id: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub content: Option<Content>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub is_error: Option<bool>,
    #[serde(flatten)]
    pub extra: Extra,
}

/// The top-level system prompt: a string or text blocks.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(untagged)]
pub enum System {
    Text(String),
    Blocks(Vec<ContentBlock>),
}

/// A tool. Client tools (`type` absent or `"custom"`) are modelled; server and versioned
/// tools (`web_search_...`, `bash_...`) are kept raw in `Other`.
#[derive(Debug, Clone, PartialEq)]
pub enum Tool {
    Custom(CustomTool),
    Other(Value),
}

impl Tool {
    pub fn custom(
        name: impl Into<String>,
        description: Option<String>,
        input_schema: Value,
    ) -> Self {
        Self::Custom(CustomTool {
            kind: None,
            name: name.into(),
            description,
            input_schema,
            extra: Extra::new(),
        })
    }
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct CustomTool {
    /// `Some("custom")` when the client wrote it; kept so it round-trips.
    #[serde(rename = "type", default, skip_serializing_if = "Option::is_none")]
    pub kind: Option<String>,
    pub name: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub description: Option<String>,
    pub input_schema: Value,
    #[serde(flatten)]
    pub extra: Extra,
}

impl Serialize for Tool {
    fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        match self {
            Self::Custom(t) => t.serialize(s),
            Self::Other(v) => v.serialize(s),
        }
    }
}

// Hand-written: custom tools usually have no `type`, which serde's tagged enums cannot
// express, and a malformed custom tool should fail instead of slipping into `Other`.
impl<'de> Deserialize<'de> for Tool {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        use serde::de::Error;
        let v = Value::deserialize(d)?;
        match v.get("type").map(Value::as_str) {
            None | Some(Some("custom")) => serde_json::from_value(v)
                .map(Self::Custom)
                .map_err(D::Error::custom),
            _ => Ok(Self::Other(v)),
        }
    }
}

string_enum! {
    pub enum ToolChoiceKind {
        Auto => "auto",
        Any => "any",
        Tool => "tool",
        None => "none",
    }
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct ToolChoice {
    #[serde(rename = "type")]
    pub kind: ToolChoiceKind,
    /// The tool to call when `kind` is `tool`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub name: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub disable_parallel_tool_use: Option<bool>,
    #[serde(flatten)]
    pub extra: Extra,
}

impl ToolChoice {
    pub fn new(kind: ToolChoiceKind) -> Self {
        Self {
            kind,
            name: None,
            disable_parallel_tool_use: None,
            extra: Extra::new(),
        }
    }

    pub fn tool(name: impl Into<String>) -> Self {
        Self {
            name: Some(name.into()),
            ..Self::new(ToolChoiceKind::Tool)
        }
    }
}
