//! What the Anthropic door rejects with a 400 whatever provider the request would go to.

use super::request::{
    Content, ContentBlock, ImageSource, MessagesRequest, Role, System, Tool, ToolChoiceKind,
};
use crate::error::ProtocolError;
use crate::openai::valid_name;
use crate::serde_util::type_name;

type Check = Result<(), ProtocolError>;

const IMAGE_TYPES: [&str; 4] = ["image/jpeg", "image/png", "image/gif", "image/webp"];

impl MessagesRequest {
    /// Rejects what no door accepts; `param` of the error is the JSON path of the field.
    pub fn validate(&self) -> Check {
        if self.model.is_empty() {
            return Err(ProtocolError::new("model", "`model` must not be empty"));
        }
        match self.max_tokens {
            None => return Err(ProtocolError::new("max_tokens", "`max_tokens` is required")),
            Some(0) => {
                return Err(ProtocolError::new(
                    "max_tokens",
                    "`max_tokens` must be at least 1",
                ));
            }
            Some(_) => {}
        }
        if self.messages.is_empty() {
            return Err(ProtocolError::new(
                "messages",
                "`messages` must contain at least one message",
            ));
        }
        for (i, m) in self.messages.iter().enumerate() {
            if let Role::Other(r) = &m.role {
                return Err(ProtocolError::new(
                    format!("messages[{i}].role"),
                    format!("unknown role {r:?}: expected user or assistant (system is top-level)"),
                ));
            }
            if let Content::Blocks(blocks) = &m.content {
                if blocks.is_empty() {
                    return Err(ProtocolError::new(
                        format!("messages[{i}].content"),
                        "`content` must contain at least one block",
                    ));
                }
                for (j, b) in blocks.iter().enumerate() {
                    check_block(&m.role, b, &format!("messages[{i}].content[{j}]"))?;
                }
            }
        }
        if let Some(System::Blocks(blocks)) = &self.system {
            for (j, b) in blocks.iter().enumerate() {
                if !matches!(b, ContentBlock::Text(_)) {
                    return Err(ProtocolError::new(
                        format!("system[{j}]"),
                        "`system` accepts text blocks only",
                    ));
                }
            }
        }
        in_unit("temperature", self.temperature)?;
        in_unit("top_p", self.top_p)?;
        self.check_tools()
    }

    fn check_tools(&self) -> Check {
        for (i, tool) in self.tools.iter().flatten().enumerate() {
            if let Tool::Custom(t) = tool {
                if !valid_name(&t.name) {
                    return Err(ProtocolError::new(
                        format!("tools[{i}].name"),
                        "a tool name must be 1 to 64 letters, digits, `_` or `-`",
                    ));
                }
                if !t.input_schema.is_object() {
                    return Err(ProtocolError::new(
                        format!("tools[{i}].input_schema"),
                        "`input_schema` must be a JSON Schema object",
                    ));
                }
            }
        }
        let Some(choice) = &self.tool_choice else {
            return Ok(());
        };
        match &choice.kind {
            ToolChoiceKind::Tool if choice.name.as_deref().is_none_or(str::is_empty) => {
                Err(ProtocolError::new(
                    "tool_choice.name",
                    "`tool_choice` of type tool needs a `name`",
                ))
            }
            ToolChoiceKind::Other(k) => Err(ProtocolError::new(
                "tool_choice.type",
                format!("unknown tool_choice type {k:?}: expected auto, any, tool or none"),
            )),
            _ => Ok(()),
        }
    }
}

fn check_block(role: &Role, block: &ContentBlock, param: &str) -> Check {
    let wrong_role = |what: &str, needed: &str| {
        Err(ProtocolError::new(
            param,
            format!("{what} blocks are only allowed in {needed} messages"),
        ))
    };
    match block {
        ContentBlock::Text(_) => Ok(()),
        ContentBlock::ToolUse(_) if *role != Role::Assistant => wrong_role("tool_use", "assistant"),
        ContentBlock::ToolUse(_) => Ok(()),
        ContentBlock::ToolResult(_) if *role != Role::User => wrong_role("tool_result", "user"),
        ContentBlock::ToolResult(_) => Ok(()),
        ContentBlock::Image(_) if *role != Role::User => wrong_role("image", "user"),
        ContentBlock::Image(img) => match &img.source {
            ImageSource::Base64 { media_type, .. }
                if !IMAGE_TYPES.contains(&media_type.as_str()) =>
            {
                Err(ProtocolError::new(
                    format!("{param}.source.media_type"),
                    format!(
                        "unsupported image media type {media_type:?}: expected image/jpeg, image/png, image/gif or image/webp"
                    ),
                ))
            }
            _ => Ok(()),
        },
        ContentBlock::Other(v) => {
            let kind = type_name(v);
            if matches!(kind, "text" | "image" | "tool_use" | "tool_result") {
                Err(ProtocolError::new(
                    param,
                    format!("malformed `{kind}` block"),
                ))
            } else {
                Ok(())
            }
        }
    }
}

fn in_unit(param: &str, value: Option<f64>) -> Check {
    match value {
        Some(v) if !(0.0..=1.0).contains(&v) => Err(ProtocolError::new(
            param,
            format!("`{param}` must be between 0 and 1, got {v}"),
        )),
        _ => Ok(()),
    }
}
