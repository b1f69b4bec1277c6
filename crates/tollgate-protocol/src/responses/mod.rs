//! OpenAI's Responses API (`/v1/responses`): the request, its translation to the hub
//! format (Chat Completions), and the chat answer back as a Responses object, whole
//! ([`Echo::from_chat`]) or as the Responses event stream ([`ResponsesStream`]).

mod answer;
mod request;
mod stream;

pub use answer::{Echo, item_status, output_messages, output_text, status_of, usage_object};
pub use request::ResponsesRequest;
pub use stream::{ResponsesStream, encode};
