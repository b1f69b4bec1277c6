//! OpenAI Chat Completions and Embeddings wire types: the gateway's canonical (hub) format.

mod accumulate;
mod chat;
mod embeddings;
mod response;
mod validate;

pub use accumulate::ChunkAccumulator;
pub(crate) use chat::function_type;
pub use chat::{
    ChatRequest, ContentPart, FunctionCall, FunctionDef, FunctionTool, ImageUrl, ImageUrlPart,
    JsonSchemaFormat, Message, MessageContent, NamedFunction, NamedToolChoice, ResponseFormat,
    Role, Stop, StreamOptions, TextPart, Tool, ToolCall, ToolChoice, ToolChoiceMode,
};
pub use embeddings::{
    Embedding, EmbeddingInput, EmbeddingUsage, EmbeddingVector, EmbeddingsRequest,
    EmbeddingsResponse,
};
pub use response::{
    ChatChunk, ChatResponse, Choice, ChunkChoice, Delta, FinishReason, FunctionCallDelta,
    PromptTokensDetails, ToolCallDelta, Usage,
};
pub(crate) use response::{chunk_object, completion_object};
pub(crate) use validate::valid_name;
