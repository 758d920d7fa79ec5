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

#[cfg(test)]
mod tests {
    use super::*;
    use crate::llm::tokenizer::fixtures;

    fn messages(case: &fixtures::ChatCase) -> Vec<ChatMessage> {
        case.messages
            .iter()
            .map(|m| match m.role.as_str() {
                "system" => ChatMessage::system(&m.content),
                "user" => ChatMessage::user(&m.content),
                "assistant" => ChatMessage::assistant(&m.content),
                r => panic!("role {r}"),
            })
            .collect()
    }

    /// Our rendering equals the stored Jinja template's, as rendered by jinja2 in the fixture script.
    #[test]
    fn chatml_matches_stored_templates() {
        for name in fixtures::NAMES {
            let f = fixtures::load(name);
            let t = ChatTemplate::detect(Some(&f.template), "llama", name).unwrap();
            assert!(
                matches!(
                    t.format,
                    ChatFormat::ChatMl {
                        default_system: Some(_)
                    }
                ),
                "{name}"
            );
            for case in &f.chat {
                assert_eq!(t.render(&messages(case)), case.prompt, "{name}");
            }
        }
    }

    #[test]
    fn default_system_prompts_are_read_from_the_template() {
        let smol = fixtures::load("smollm2");
        let qwen = fixtures::load("qwen2.5-coder-1.5b");
        let sys = |f: &fixtures::Fixture| match ChatTemplate::detect(Some(&f.template), "x", "m")
            .unwrap()
            .format
        {
            ChatFormat::ChatMl { default_system } => default_system,
            other => panic!("{other:?}"),
        };
        assert_eq!(
            sys(&smol).as_deref(),
            Some("You are a helpful AI assistant named SmolLM, trained by Hugging Face")
        );
        assert_eq!(
            sys(&qwen).as_deref(),
            Some("You are Qwen, created by Alibaba Cloud. You are a helpful assistant.")
        );
    }

    #[test]
    fn llama3_headers() {
        let t = ChatTemplate::detect(
            Some("{{ bos_token }}<|start_header_id|>... Cutting Knowledge Date: ..."),
            "llama",
            "m",
        )
        .unwrap();
        let got = t.render(&[
            ChatMessage::system("You are a friendly chatbot"),
            ChatMessage::user("Hello! "),
        ]);
        assert_eq!(
            got,
            "<|begin_of_text|><|start_header_id|>system<|end_header_id|>\n\nCutting Knowledge Date: \
             December 2023\nToday Date: 26 Jul 2024\n\nYou are a friendly chatbot<|eot_id|>\
             <|start_header_id|>user<|end_header_id|>\n\nHello!<|eot_id|>\
             <|start_header_id|>assistant<|end_header_id|>\n\n"
        );
        // Llama 3.0 has no dated system header: a system message is an ordinary turn.
        let t = ChatTemplate::detect(Some("<|start_header_id|>"), "llama", "m").unwrap();
        assert_eq!(
            t.render(&[ChatMessage::system("Be brief."), ChatMessage::user("Hi")]),
            "<|begin_of_text|><|start_header_id|>system<|end_header_id|>\n\nBe brief.<|eot_id|>\
             <|start_header_id|>user<|end_header_id|>\n\nHi<|eot_id|>\
             <|start_header_id|>assistant<|end_header_id|>\n\n"
        );
        assert!(t.stop_tokens().contains(&"<|eot_id|>"));
    }

    #[test]
    fn gemma_turns() {
        let t =
            ChatTemplate::detect(Some("{{ bos_token }}<start_of_turn>"), "gemma3", "m").unwrap();
        let got = t.render(&[
            ChatMessage::system("Be brief."),
            ChatMessage::user(" Hi "),
            ChatMessage::assistant("Hello."),
            ChatMessage::user("Bye"),
        ]);
        assert_eq!(
            got,
            "<bos><start_of_turn>user\nBe brief.\n\nHi<end_of_turn>\n<start_of_turn>model\nHello.\
             <end_of_turn>\n<start_of_turn>user\nBye<end_of_turn>\n<start_of_turn>model\n"
        );
        assert_eq!(t.stop_tokens(), &["<end_of_turn>", "<eos>"]);
    }

    #[test]
    fn unknown_template_is_an_error() {
        let err = ChatTemplate::detect(Some("[INST] {{ m }} [/INST]"), "llama", "model.gguf")
            .unwrap_err()
            .to_string();
        assert!(
            err.contains("model.gguf") && err.contains("chat template"),
            "{err}"
        );
        assert!(ChatTemplate::detect(None, "qwen2", "m").is_ok());
    }
}
