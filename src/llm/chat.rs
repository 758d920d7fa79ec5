//! Chat templates: how a list of messages becomes the prompt text a model was tuned on, and which
//! tokens end its turn.
//!
//! GGUF files carry the original Jinja template (`tokenizer.chat_template`). Rather than embed a Jinja
//! engine we write the three formats our families use as code and pick one by looking at the stored
//! template, copying the parts that vary between models (the default system prompt of ChatML
//! templates, the dated system header of Llama 3.1+). Tests render the same messages with the stored
//! template through Python's jinja2, as `transformers` does, and compare the strings.

use super::{ChatMessage, LlmError, Role};

/// The prompt format of a model.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum ChatFormat {
    /// `<|im_start|>role\ncontent<|im_end|>\n` (Qwen, SmolLM2). When the first message is not a
    /// system message, the template may insert a default one (Qwen's "You are Qwen…", SmolLM2's
    /// "You are a helpful AI assistant named SmolLM…").
    ChatMl { default_system: Option<String> },
    /// `<|start_header_id|>role<|end_header_id|>\n\ncontent<|eot_id|>` after `<|begin_of_text|>`.
    /// Llama 3.1 and later always write a system header that starts with the knowledge-cutoff dates.
    Llama3 { dated_system: bool },
    /// `<start_of_turn>user\n…<end_of_turn>\n` after `<bos>`; a system message is prefixed to the
    /// first user turn; the assistant is called "model".
    Gemma,
}

/// A chat template with its stop tokens.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ChatTemplate {
    pub format: ChatFormat,
}

/// The date Llama 3.1's template writes when none is given; fixed so prompts are reproducible.
const LLAMA3_DATE: &str = "26 Jul 2024";

impl ChatTemplate {
    /// The format of the stored Jinja template, or of the architecture when the file has none.
    pub fn detect(stored: Option<&str>, architecture: &str, model: &str) -> Result<Self, LlmError> {
        let format =
            match stored {
                Some(t) if t.contains("<|im_start|>") => ChatFormat::ChatMl {
                    default_system: chatml_default_system(t),
                },
                Some(t) if t.contains("<|start_header_id|>") => ChatFormat::Llama3 {
                    dated_system: t.contains("Cutting Knowledge Date"),
                },
                Some(t) if t.contains("<start_of_turn>") => ChatFormat::Gemma,
                Some(_) => return Err(LlmError::Unsupported {
                    model: model.to_string(),
                    what: "its chat template (tokenizer.chat_template) is neither ChatML, Llama 3 \
                           nor Gemma"
                        .into(),
                }),
                None => match architecture {
                    "qwen2" | "qwen3" => ChatFormat::ChatMl {
                        default_system: None,
                    },
                    "gemma3" => ChatFormat::Gemma,
                    "llama" => ChatFormat::Llama3 {
                        dated_system: false,
                    },
                    _ => {
                        return Err(LlmError::Unsupported {
                            model: model.to_string(),
                            what: "it has no chat template (tokenizer.chat_template)".into(),
                        })
                    }
                },
            };
        Ok(ChatTemplate { format })
    }

    /// The prompt for `messages`, ending with the opening of the assistant's turn.
    pub fn render(&self, messages: &[ChatMessage]) -> String {
        let mut s = String::new();
        match &self.format {
            ChatFormat::ChatMl { default_system } => {
                if let (Some(d), false) = (
                    default_system,
                    messages.first().is_some_and(|m| m.role == Role::System),
                ) {
                    s.push_str(&format!("<|im_start|>system\n{d}<|im_end|>\n"));
                }
                for m in messages {
                    s.push_str(&format!(
                        "<|im_start|>{}\n{}<|im_end|>\n",
                        role_name(m.role),
                        m.content
                    ));
                }
                s.push_str("<|im_start|>assistant\n");
            }
            ChatFormat::Llama3 { dated_system } => {
                s.push_str("<|begin_of_text|>");
                let (system, rest) = match messages.split_first() {
                    Some((first, rest)) if first.role == Role::System && *dated_system => {
                        (first.content.trim(), rest)
                    }
                    _ => ("", messages),
                };
                if *dated_system {
                    s.push_str(&format!(
                        "<|start_header_id|>system<|end_header_id|>\n\nCutting Knowledge Date: \
                         December 2023\nToday Date: {LLAMA3_DATE}\n\n{system}<|eot_id|>"
                    ));
                }
                for m in rest {
                    s.push_str(&format!(
                        "<|start_header_id|>{}<|end_header_id|>\n\n{}<|eot_id|>",
                        role_name(m.role),
                        m.content.trim()
                    ));
                }
                s.push_str("<|start_header_id|>assistant<|end_header_id|>\n\n");
            }
            ChatFormat::Gemma => {
                s.push_str("<bos>");
                let (prefix, rest) = match messages.split_first() {
                    Some((first, rest)) if first.role == Role::System => {
                        (format!("{}\n\n", first.content), rest)
                    }
                    _ => (String::new(), messages),
                };
                for (i, m) in rest.iter().enumerate() {
                    let role = match m.role {
                        Role::Assistant => "model",
                        r => role_name(r),
                    };
                    let prefix = if i == 0 { prefix.as_str() } else { "" };
                    s.push_str(&format!(
                        "<start_of_turn>{role}\n{prefix}{}<end_of_turn>\n",
                        m.content.trim()
                    ));
                }
                s.push_str("<start_of_turn>model\n");
            }
        }
        s
    }

    /// Tokens (by text) that end the assistant's turn; the file's EOS id is added by the caller.
    pub fn stop_tokens(&self) -> &'static [&'static str] {
        match self.format {
            ChatFormat::ChatMl { .. } => &["<|im_end|>", "<|endoftext|>"],
            ChatFormat::Llama3 { .. } => &["<|eot_id|>", "<|eom_id|>", "<|end_of_text|>"],
            ChatFormat::Gemma => &["<end_of_turn>", "<eos>"],
        }
    }
}

fn role_name(role: Role) -> &'static str {
    match role {
        Role::System => "system",
        Role::User => "user",
        Role::Assistant => "assistant",
    }
}

/// The default system prompt a ChatML template writes when the chat has none: the literal text
/// between `<|im_start|>system\n` and `<|im_end|>` in a Jinja string (not one built from a message).
fn chatml_default_system(template: &str) -> Option<String> {
    let re = regex::Regex::new(r#"<\|im_start\|>system(?:\\n|\n)([^'"+{}]*?)<\|im_end\|>"#).ok()?;
    re.captures(template)
        .and_then(|c| c.get(1))
        .map(|m| m.as_str().replace("\\n", "\n"))
        .filter(|s| !s.is_empty())
}
