//! Anthropic Messages wire types: requests, responses and stream events.

mod accumulate;
mod request;
mod response;
mod stream;
mod validate;

pub use accumulate::EventAccumulator;
pub use request::{
    Content, ContentBlock, CustomTool, ImageBlock, ImageSource, Message, MessagesRequest, Metadata,
    Role, System, TextBlock, Tool, ToolChoice, ToolChoiceKind, ToolResultBlock, ToolUseBlock,
};
pub use response::{MessagesResponse, StopReason, Usage};
pub use stream::{BlockDelta, DeltaUsage, ErrorBody, MessageDelta, StreamEvent};
