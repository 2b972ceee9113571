//! Reading resources, getting prompts and completing their arguments at `/api/mcp`: what is
//! offered, the caller's permission, the call to the host with the tool timeout, the result
//! cap and the audit record. Subscriptions to resources are counted here too, so a host is
//! asked once however many sessions subscribe.
// rmcp marks `resources/subscribe` legacy-only (2026-07-28 has `subscriptions/listen`);
// 2025-11-25 sessions use it.
#![allow(deprecated)]

use std::time::Instant;

use rmcp::model::{
    ClientRequest, CompleteRequest, CompleteRequestParams, CompleteResult, GetPromptRequest, GetPromptRequestParams,
    GetPromptResult, ReadResourceRequest, ReadResourceRequestParams, ReadResourceResult, Reference, ResultType,
    ServerResult, SubscribeRequestParams, UnsubscribeRequestParams,
};
use rmcp::service::{Peer, PeerRequestOptions, RoleClient, RoleServer, ServiceError};

use super::{AppError, Caller, Luna, Operation};
use crate::audit::{Outcome, Record};
use crate::supervisor::OfferKind;
use crate::tools::CancelOnDrop;
use crate::tools::offers::{OfferCatalog, Offered};
use crate::tools::relay::ClientLink;

/// A prompt, resource or resource template as the Hub and the API show it.
#[derive(Debug, Clone, serde::Serialize, utoipa::ToSchema)]
pub struct OfferEntry {
    pub kind: OfferKind,
    /// Set for a resource template (its key is the URI template).
    pub template: bool,
    /// The prompt's name, the resource's URI or the template's URI template: what the
    /// switch is set by.
    pub key: String,
    /// The name the server gives it (a resource's or template's display name).
    pub name: String,
    pub extension: String,
    pub description: Option<String>,
    pub enabled_in_mcp: bool,
    /// Offered at `/api/mcp` right now.
    pub in_mcp: bool,
    /// Why it is not offered (a name or URI another extension already has).
    pub problem: Option<String>,
}

/// A change to one prompt's or resource's switch.
#[derive(Debug, Clone, serde::Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
pub struct OfferSwitch {
    pub kind: OfferKind,
    /// The prompt's name, or the resource's URI or template's URI template.
    pub key: String,
    pub enabled_in_mcp: bool,
}

/// Every prompt, resource and template in `offers`, in that order.
pub fn offer_entries(offers: &OfferCatalog) -> Vec<OfferEntry> {
    fn entry<T>(
        kind: OfferKind,
        template: bool,
        key: &str,
        offered: &Offered<T>,
        name: &str,
        description: Option<&str>,
    ) -> OfferEntry {
        OfferEntry {
            kind,
            template,
            key: key.to_string(),
            name: name.to_string(),
            extension: offered.extension.clone(),
            description: description.map(str::to_string),
            enabled_in_mcp: offered.enabled,
            in_mcp: offered.in_mcp(),
            problem: offered.problem.clone(),
        }
    }
    let prompts = offers.prompts.values().map(|item| {
        let prompt = &item.definition;
        entry(OfferKind::Prompt, false, &prompt.name, item, &prompt.name, prompt.description.as_deref())
    });
    let resources = offers.resources.values().map(|item| {
        let resource = &item.definition;
        entry(OfferKind::Resource, false, &resource.uri, item, &resource.name, resource.description.as_deref())
    });
    let templates = offers.templates.values().map(|item| {
        let template = &item.definition;
        entry(OfferKind::Resource, true, &template.uri_template, item, &template.name, template.description.as_deref())
    });
    prompts.chain(resources).chain(templates).collect()
}

/// A host speaking 2025-11-25 leaves `resultType` out; 2026-07-28 clients require it (rmcp
/// drops it again for older clients).
const COMPLETE: Option<ResultType> = Some(ResultType::COMPLETE);

/// Why a read, a prompt or a completion got no answer from a host.
#[derive(Debug, thiserror::Error)]
pub enum OfferError {
    /// No resource or template offered at `/api/mcp` covers this URI.
    #[error("resource not found: {0}")]
    UnknownResource(String),
    /// No prompt or template offered at `/api/mcp` has this name.
    #[error("{0}")]
    NotFound(String),
    #[error("{0}")]
    Forbidden(String),
    /// Over a limit.
    #[error("{0}")]
    Refused(String),
    /// The host answered with an MCP error: the client gets it as it is.
    #[error("{}", .0.message)]
    Host(rmcp::ErrorData),
    /// The host did not answer (timeout, gone) or its answer is over a limit.
    #[error("{0}")]
    Failed(String),
}

impl Luna {
    /// Switches a prompt or resource on or off; MCP sessions are told their lists changed.
    pub async fn switch_offer(&self, switch: OfferSwitch) -> Result<OfferEntry, AppError> {
        self.supervisor.set_offer_enabled(switch.kind, &switch.key, switch.enabled_in_mcp).await?;
        let entries = offer_entries(&self.tools.catalog().offers);
        let switched = entries.into_iter().find(|entry| entry.kind == switch.kind && entry.key == switch.key);
        switched.ok_or_else(|| AppError::NotFound(format!("the {} `{}` is gone", switch.kind, switch.key)))
    }

    /// `resources/read`: `uri` from the host of the listed resource or matching template.
    pub async fn read_resource(
        &self,
        caller: &Caller,
        client: Option<ClientLink>,
        uri: &str,
    ) -> Result<ReadResourceResult, OfferError> {
        let (extension, host) = self.resource_host(caller, uri)?;
        let request = ClientRequest::ReadResourceRequest(ReadResourceRequest::new(ReadResourceRequestParams::new(uri)));
        let answer = self.ask_host(caller, "resource_read", uri, &extension, &host, client, request).await?;
        match answer {
            ServerResult::ReadResourceResult(mut result) => {
                result.result_type = COMPLETE;
                Ok(result)
            }
            _ => Err(unexpected(&extension)),
        }
    }

    /// `prompts/get`: prompt `name` from its host, with the client's arguments.
    pub async fn get_prompt(
        &self,
        caller: &Caller,
        client: Option<ClientLink>,
        params: GetPromptRequestParams,
    ) -> Result<GetPromptResult, OfferError> {
        authorize(caller)?;
        let catalog = self.tools.catalog();
        let (extension, host) = served_by(catalog.offers.prompts.get(&params.name))
            .ok_or_else(|| OfferError::NotFound(format!("unknown prompt: {}", params.name)))?;
        let name = params.name.clone();
        let mut forwarded = GetPromptRequestParams::new(params.name);
        forwarded.arguments = params.arguments;
        let request = ClientRequest::GetPromptRequest(GetPromptRequest::new(forwarded));
        match self.ask_host(caller, "prompt_get", &name, &extension, &host, client, request).await? {
            ServerResult::GetPromptResult(mut result) => {
                result.result_type = COMPLETE;
                Ok(result)
            }
            _ => Err(unexpected(&extension)),
        }
    }

    /// `completion/complete` for an offered prompt's or template's argument; a host that
    /// does not complete answers no values.
    pub async fn complete(&self, caller: &Caller, params: CompleteRequestParams) -> Result<CompleteResult, OfferError> {
        authorize(caller)?;
        let catalog = self.tools.catalog();
        let host = match &params.r#ref {
            Reference::Prompt(prompt) => served_by(catalog.offers.prompts.get(&prompt.name)),
            Reference::Resource(template) => served_by(catalog.offers.templates.get(&template.uri)),
            _ => None,
        };
        let (extension, host) =
            host.ok_or_else(|| OfferError::NotFound("no such prompt or resource template".into()))?;
        let completes = host.peer_info().is_some_and(|info| info.capabilities.completions.is_some());
        if !completes {
            return Ok(CompleteResult::default());
        }
        let mut forwarded = CompleteRequestParams::new(params.r#ref, params.argument);
        forwarded.context = params.context;
        let request = ClientRequest::CompleteRequest(CompleteRequest::new(forwarded));
        let timeout = self.tools.settings().tool_timeout;
        match host.send_request_with_option(request, PeerRequestOptions::with_timeout(timeout)).await {
            Ok(handle) => match handle.await_response().await {
                Ok(ServerResult::CompleteResult(mut result)) => {
                    result.result_type = COMPLETE;
                    Ok(result)
                }
                Ok(_) => Err(unexpected(&extension)),
                Err(error) => Err(host_failed(&extension, error)),
            },
            Err(error) => Err(host_failed(&extension, error)),
        }
    }

    /// `resources/subscribe` of session `session`; the host is asked on the URI's first one.
    pub async fn subscribe_resource(
        &self,
        caller: &Caller,
        session: u64,
        peer: Peer<RoleServer>,
        uri: &str,
    ) -> Result<(), OfferError> {
        let (extension, host) = self.resource_host(caller, uri)?;
        let first = self.tools.subscriptions().add(uri, session, peer).map_err(OfferError::Refused)?;
        if first && host_subscribes(&host) {
            host.subscribe(SubscribeRequestParams::new(uri)).await.map_err(|error| {
                self.tools.subscriptions().remove(uri, session);
                host_failed(&extension, error)
            })?;
        }
        Ok(())
    }

    /// `resources/unsubscribe`; the host is told when the URI's last subscriber leaves.
    pub async fn unsubscribe_resource(&self, session: u64, uri: &str) {
        if self.tools.subscriptions().remove(uri, session) {
            self.unsubscribe_at_host(uri).await;
        }
    }

    /// A session ended: its subscriptions end with it.
    pub async fn mcp_session_ended(&self, session: u64) {
        for uri in self.tools.subscriptions().remove_session(session) {
            self.unsubscribe_at_host(&uri).await;
        }
    }

    async fn unsubscribe_at_host(&self, uri: &str) {
        let catalog = self.tools.catalog();
        let Some((extension, host)) = catalog.offers.reader_of(uri) else { return };
        if host_subscribes(host)
            && let Err(error) = host.unsubscribe(UnsubscribeRequestParams::new(uri)).await
        {
            tracing::debug!(%extension, %uri, %error, "resources/unsubscribe failed");
        }
    }

    fn resource_host(&self, caller: &Caller, uri: &str) -> Result<(String, Peer<RoleClient>), OfferError> {
        authorize(caller)?;
        let catalog = self.tools.catalog();
        let (extension, host) =
            catalog.offers.reader_of(uri).ok_or_else(|| OfferError::UnknownResource(uri.to_string()))?;
        Ok((extension.to_string(), host.clone()))
    }

    /// Sends `request` to `host` with the tool timeout and the result cap, records it in the
    /// audit log as `action` on `target`.
    #[allow(clippy::too_many_arguments)]
    async fn ask_host(
        &self,
        caller: &Caller,
        action: &str,
        target: &str,
        extension: &str,
        host: &Peer<RoleClient>,
        client: Option<ClientLink>,
        request: ClientRequest,
    ) -> Result<ServerResult, OfferError> {
        let started = Instant::now();
        let _in_flight = self.tools.relay().enter(extension, client);
        let timeout = self.tools.settings().tool_timeout;
        let answer = match host.send_request_with_option(request, PeerRequestOptions::with_timeout(timeout)).await {
            Ok(handle) => {
                let cancel_on_drop = CancelOnDrop::new(host.clone(), handle.id.clone());
                let answer = handle.await_response().await;
                cancel_on_drop.disarm();
                crate::tools::notifications_delivered().await;
                answer.map_err(|error| host_failed(extension, error))
            }
            Err(error) => Err(host_failed(extension, error)),
        };
        let answer = answer.and_then(|answer| {
            let limit = self.tools.settings().max_result_bytes;
            let size = serde_json::to_vec(&answer).map_or(usize::MAX, |bytes| bytes.len());
            if size > limit {
                return Err(OfferError::Failed(format!(
                    "the answer is {size} bytes, over the limit of {limit} bytes (mcp.max_result_bytes)"
                )));
            }
            Ok(answer)
        });
        let mut record =
            Record::new(caller.principal(), action, if answer.is_ok() { Outcome::Ok } else { Outcome::Failed });
        record.target = Some(target);
        record.duration = Some(started.elapsed());
        self.audit.record(record);
        answer
    }
}

/// The extension and host of `offered`, if it is offered at `/api/mcp`.
fn served_by<T>(offered: Option<&Offered<T>>) -> Option<(String, Peer<RoleClient>)> {
    offered.filter(|offered| offered.in_mcp()).map(|offered| (offered.extension.clone(), offered.host().clone()))
}

fn authorize(caller: &Caller) -> Result<(), OfferError> {
    caller.authorize(Operation::UseTools).map_err(|refusal| OfferError::Forbidden(refusal.to_string()))
}

fn host_subscribes(host: &Peer<RoleClient>) -> bool {
    host.peer_info().and_then(|info| info.capabilities.resources.as_ref()?.subscribe).unwrap_or(false)
}

fn unexpected(extension: &str) -> OfferError {
    OfferError::Failed(format!("the MCP server of `{extension}` sent an unexpected answer"))
}

fn host_failed(extension: &str, error: ServiceError) -> OfferError {
    match error {
        ServiceError::McpError(error) => OfferError::Host(error),
        ServiceError::Timeout { timeout } => OfferError::Failed(format!(
            "the MCP server of `{extension}` did not answer within {:.1}s (mcp.tool_timeout_ms)",
            timeout.as_secs_f64()
        )),
        other => OfferError::Failed(format!("the MCP server of `{extension}` failed: {other}")),
    }
}
