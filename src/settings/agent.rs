//! `[agent]`: the LLM behind the Agent API (any OpenAI-compatible endpoint) and the limits
//! every agent request runs under. The endpoint's key is `OPENAI_API_KEY` in `.env`.

use std::time::Duration;

use serde::Deserialize;

use super::{Environment, Origin, SettingsError};

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct AgentSettings {
    /// `https://api.openai.com/v1`, `http://127.0.0.1:11434/v1` (Ollama), ...: where
    /// `/chat/completions` is.
    pub base_url: String,
    /// The model every agent asks for.
    pub model: String,
    /// Model calls per request: a model that keeps calling tools stops here.
    pub max_steps: u32,
    /// Wall time per request, tool calls included.
    pub max_duration: Duration,
    /// Tokens per request (prompt and completion of every model call together).
    pub max_tokens: u64,
    /// Longest wait for the model's next bytes.
    pub llm_timeout: Duration,
}

impl Default for AgentSettings {
    fn default() -> Self {
        Self {
            base_url: "https://api.openai.com/v1".into(),
            model: "gpt-4.1".into(),
            max_steps: 8,
            max_duration: Duration::from_secs(120),
            max_tokens: 100_000,
            llm_timeout: Duration::from_secs(60),
        }
    }
}

/// The `[agent]` table of `luna.toml`.
#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub(super) struct AgentSection {
    /// SPEC §14's name; `base_url` is the name it had before.
    #[serde(alias = "base_url")]
    pub llm_base_url: Option<String>,
    #[serde(alias = "model")]
    pub default_model: Option<String>,
    pub max_steps: Option<u32>,
    pub max_duration_secs: Option<u64>,
    pub max_tokens: Option<u64>,
    pub llm_timeout_secs: Option<u64>,
}

impl AgentSection {
    pub fn validate(self, origin: &Origin, env: &dyn Environment) -> Result<AgentSettings, SettingsError> {
        let defaults = AgentSettings::default();
        let base_url = match super::env_or_file("OPENAI_BASE_URL", env, self.llm_base_url, origin) {
            None => defaults.base_url,
            Some((url, from)) => match reqwest::Url::parse(&url) {
                Ok(parsed) if matches!(parsed.scheme(), "http" | "https") => url.trim_end_matches('/').to_string(),
                _ => {
                    let reason = format!("`{url}` is not an http(s) URL like https://api.openai.com/v1");
                    return Err(SettingsError::new("agent.llm_base_url", from, reason));
                }
            },
        };
        let model = match super::env_or_file("LUNA_AGENT_MODEL", env, self.default_model, origin) {
            Some((model, from)) if model.trim().is_empty() => {
                return Err(SettingsError::new("agent.default_model", from, "is empty"));
            }
            Some((model, _)) => model,
            None => defaults.model,
        };
        let ranged = |key: &str, value: Option<u64>, range: std::ops::RangeInclusive<u64>, default: u64| match value {
            None => Ok(default),
            Some(value) if range.contains(&value) => Ok(value),
            Some(value) => Err(SettingsError::new(
                &format!("agent.{key}"),
                origin.clone(),
                format!("{value} is out of range {}..={}", range.start(), range.end()),
            )),
        };
        let max_steps = ranged("max_steps", self.max_steps.map(u64::from), 1..=100, u64::from(defaults.max_steps))?;
        let seconds =
            |key, value, default: Duration| ranged(key, value, 1..=3600, default.as_secs()).map(Duration::from_secs);
        Ok(AgentSettings {
            base_url,
            model,
            max_steps: max_steps as u32,
            max_duration: seconds("max_duration_secs", self.max_duration_secs, defaults.max_duration)?,
            max_tokens: ranged("max_tokens", self.max_tokens, 100..=10_000_000, defaults.max_tokens)?,
            llm_timeout: seconds("llm_timeout_secs", self.llm_timeout_secs, defaults.llm_timeout)?,
        })
    }
}
