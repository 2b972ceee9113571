//! `Extension(<name>)`: groups the process actors of one extension (and later its tool
//! host). The `Extensions` supervisor spawns the processes linked to this actor, so
//! stopping it takes them along.

use ractor::{Actor, ActorProcessingErr, ActorRef, SupervisionEvent};

pub struct Extension;

/// The extension actor has no requests of its own yet; it exists for supervision.
pub enum ExtensionMsg {}

impl Actor for Extension {
    type Msg = ExtensionMsg;
    type State = String;
    type Arguments = String;

    async fn pre_start(&self, _myself: ActorRef<ExtensionMsg>, name: String) -> Result<String, ActorProcessingErr> {
        Ok(name)
    }

    async fn post_stop(&self, myself: ActorRef<ExtensionMsg>, _name: &mut String) -> Result<(), ActorProcessingErr> {
        myself.stop_children_and_wait(None, None).await;
        Ok(())
    }

    async fn handle_supervisor_evt(
        &self,
        _myself: ActorRef<ExtensionMsg>,
        event: SupervisionEvent,
        name: &mut String,
    ) -> Result<(), ActorProcessingErr> {
        // A process actor only fails on a bug in Luna; its child was stopped by its
        // `post_stop`. The other processes of the extension keep running.
        if let SupervisionEvent::ActorFailed(who, error) = event {
            tracing::error!(extension = %name, actor = ?who.get_name(), %error, "process actor failed");
        }
        Ok(())
    }
}
