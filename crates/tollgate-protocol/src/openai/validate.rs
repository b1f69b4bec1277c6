//! What the OpenAI door rejects with a 400 whatever provider the request would go to.
//! Translators rely on none of this for safety (they never panic), but checking here
//! gives the client one precise error with a `param` instead of an upstream's guess.

use super::chat::{
    ChatRequest, ContentPart, MessageContent, ResponseFormat, Role, Tool, ToolChoice,
    ToolChoiceMode,
};
use crate::error::ProtocolError;
use crate::serde_util::type_name;

type Check = Result<(), ProtocolError>;

impl ChatRequest {
    /// Rejects what no door accepts; `param` of the error is the JSON path of the field.
    pub fn validate(&self) -> Check {
        if self.model.is_empty() {
            return Err(ProtocolError::new("model", "`model` must not be empty"));
        }
        if self.messages.is_empty() {
            return Err(ProtocolError::new(
                "messages",
                "`messages` must contain at least one message",
            ));
        }
        for i in 0..self.messages.len() {
            self.validate_message(i)?;
        }
        self.validate_sampling()?;
        self.validate_tools()?;
        self.validate_response_format()
    }

    fn validate_message(&self, i: usize) -> Check {
        let Some(m) = self.messages.get(i) else {
            return Ok(());
        };
        let at = |field: &str| format!("messages[{i}].{field}");
        let has_tool_calls = m.tool_calls.as_ref().is_some_and(|c| !c.is_empty());
        match &m.role {
            Role::Other(r) => {
                return Err(ProtocolError::new(
                    at("role"),
                    format!(
                        "unknown role {r:?}: expected system, developer, user, assistant or tool"
                    ),
                ));
            }
            Role::Assistant => {
                if m.content.is_none() && !has_tool_calls {
                    return Err(ProtocolError::new(
                        at("content"),
                        "an assistant message needs `content` or `tool_calls`",
                    ));
                }
            }
            Role::Tool => {
                if m.tool_call_id.as_deref().is_none_or(str::is_empty) {
                    return Err(ProtocolError::new(
                        at("tool_call_id"),
                        "a tool message needs the `tool_call_id` of the call it answers",
                    ));
                }
                if m.content.is_none() {
                    return Err(ProtocolError::new(at("content"), "`content` is required"));
                }
            }
            Role::System | Role::Developer | Role::User => {
                if m.content.is_none() {
                    return Err(ProtocolError::new(at("content"), "`content` is required"));
                }
            }
        }
        if m.tool_calls.is_some() && m.role != Role::Assistant {
            return Err(ProtocolError::new(
                at("tool_calls"),
                "only assistant messages may carry `tool_calls`",
            ));
        }
        for (j, call) in m.tool_calls.iter().flatten().enumerate() {
            if call.id.is_empty() {
                return Err(ProtocolError::new(
                    format!("messages[{i}].tool_calls[{j}].id"),
                    "a tool call needs an `id`",
                ));
            }
            if call.function.name.is_empty() {
                return Err(ProtocolError::new(
                    format!("messages[{i}].tool_calls[{j}].function.name"),
                    "a tool call needs a function `name`",
                ));
            }
        }
        if let Some(MessageContent::Parts(parts)) = &m.content {
            let text_only = matches!(
                m.role,
                Role::System | Role::Developer | Role::Tool | Role::Assistant
            );
            for (j, part) in parts.iter().enumerate() {
                let param = format!("messages[{i}].content[{j}]");
                match part {
                    ContentPart::Text(_) => {}
                    ContentPart::ImageUrl(p) => {
                        if text_only {
                            return Err(ProtocolError::new(
                                param,
                                format!("{} messages accept text parts only", m.role),
                            ));
                        }
                        if p.image_url.url.is_empty() {
                            return Err(ProtocolError::new(
                                format!("{param}.image_url.url"),
                                "`image_url.url` must not be empty",
                            ));
                        }
                    }
                    ContentPart::Other(v) => {
                        let kind = type_name(v);
                        if matches!(kind, "text" | "image_url") {
                            return Err(ProtocolError::new(
                                param,
                                format!("malformed `{kind}` content part"),
                            ));
                        }
                        if text_only && !matches!(kind, "refusal") {
                            return Err(ProtocolError::new(
                                param,
                                format!("{} messages accept text parts only", m.role),
                            ));
                        }
                    }
                }
            }
        }
        Ok(())
    }

    fn validate_sampling(&self) -> Check {
        in_range("temperature", self.temperature, 0.0, 2.0)?;
        in_range("top_p", self.top_p, 0.0, 1.0)?;
        in_range("presence_penalty", self.presence_penalty, -2.0, 2.0)?;
        in_range("frequency_penalty", self.frequency_penalty, -2.0, 2.0)?;
        if self.max_tokens == Some(0) {
            return Err(ProtocolError::new(
                "max_tokens",
                "`max_tokens` must be at least 1",
            ));
        }
        if self.max_completion_tokens == Some(0) {
            return Err(ProtocolError::new(
                "max_completion_tokens",
                "`max_completion_tokens` must be at least 1",
            ));
        }
        match self.n {
            Some(0) => return Err(ProtocolError::new("n", "`n` must be at least 1")),
            Some(n) if n > 1 => {
                return Err(ProtocolError::new(
                    "n",
                    "`n` greater than 1 is not supported: send one request per completion",
                ));
            }
            _ => {}
        }
        if let Some(k) = self.top_logprobs {
            if k > 20 {
                return Err(ProtocolError::new(
                    "top_logprobs",
                    "`top_logprobs` must be between 0 and 20",
                ));
            }
            if self.logprobs != Some(true) {
                return Err(ProtocolError::new(
                    "top_logprobs",
                    "`top_logprobs` requires `logprobs: true`",
                ));
            }
        }
        if self.stream_options.is_some() && !self.is_stream() {
            return Err(ProtocolError::new(
                "stream_options",
                "`stream_options` is only allowed when `stream` is true",
            ));
        }
        Ok(())
    }

    fn validate_tools(&self) -> Check {
        let tools = self.tools.as_deref().unwrap_or_default();
        for (i, tool) in tools.iter().enumerate() {
            match tool {
                Tool::Function(f) => {
                    if !valid_name(&f.function.name) {
                        return Err(ProtocolError::new(
                            format!("tools[{i}].function.name"),
                            "a function name must be 1 to 64 letters, digits, `_` or `-`",
                        ));
                    }
                    if f.function
                        .parameters
                        .as_ref()
                        .is_some_and(|p| !p.is_object())
                    {
                        return Err(ProtocolError::new(
                            format!("tools[{i}].function.parameters"),
                            "`parameters` must be a JSON Schema object",
                        ));
                    }
                }
                Tool::Other(v) if type_name(v) == "function" => {
                    return Err(ProtocolError::new(
                        format!("tools[{i}]"),
                        "malformed function tool: it needs `function.name`",
                    ));
                }
                Tool::Other(_) => {}
            }
        }
        let function_named = |name: &str| {
            tools
                .iter()
                .any(|t| matches!(t, Tool::Function(f) if f.function.name == name))
        };
        match &self.tool_choice {
            None | Some(ToolChoice::Mode(ToolChoiceMode::None | ToolChoiceMode::Auto)) => Ok(()),
            Some(ToolChoice::Mode(ToolChoiceMode::Required)) if tools.is_empty() => Err(
                ProtocolError::new("tool_choice", "`tool_choice: required` needs `tools`"),
            ),
            Some(ToolChoice::Mode(ToolChoiceMode::Required)) => Ok(()),
            Some(ToolChoice::Mode(ToolChoiceMode::Other(s))) => Err(ProtocolError::new(
                "tool_choice",
                format!("unknown tool_choice {s:?}: expected auto, none or required"),
            )),
            Some(ToolChoice::Named(n)) if !function_named(&n.function.name) => {
                Err(ProtocolError::new(
                    "tool_choice.function.name",
                    format!(
                        "tool_choice names {:?}, which is not in `tools`",
                        n.function.name
                    ),
                ))
            }
            Some(ToolChoice::Named(_) | ToolChoice::Other(_)) => Ok(()),
        }
    }

    fn validate_response_format(&self) -> Check {
        match &self.response_format {
            None | Some(ResponseFormat::Text | ResponseFormat::JsonObject) => Ok(()),
            Some(ResponseFormat::JsonSchema { json_schema }) => {
                if !valid_name(&json_schema.name) {
                    return Err(ProtocolError::new(
                        "response_format.json_schema.name",
                        "a schema name must be 1 to 64 letters, digits, `_` or `-`",
                    ));
                }
                if json_schema.schema.as_ref().is_some_and(|s| !s.is_object()) {
                    return Err(ProtocolError::new(
                        "response_format.json_schema.schema",
                        "`schema` must be a JSON Schema object",
                    ));
                }
                Ok(())
            }
            Some(ResponseFormat::Other(v)) => Err(ProtocolError::new(
                "response_format",
                format!(
                    "unsupported or malformed response_format of type `{}`: expected text, json_object or json_schema",
                    type_name(v)
                ),
            )),
        }
    }
}

fn in_range(param: &str, value: Option<f64>, min: f64, max: f64) -> Check {
    match value {
        Some(v) if !(min..=max).contains(&v) => Err(ProtocolError::new(
            param,
            format!("`{param}` must be between {min} and {max}, got {v}"),
        )),
        _ => Ok(()),
    }
}

/// The tool-name rule OpenAI and Anthropic share; checking it once here spares a
/// round trip to the provider.
pub(crate) fn valid_name(name: &str) -> bool {
    (1..=64).contains(&name.len())
        && name
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || b == b'_' || b == b'-')
}
