//! `ExternalServices`: the supervisor of Docker-backed services (one `DockerService` actor
//! per installed service attaches here). Until then it manages nothing and says so.

use ractor::{Actor, ActorProcessingErr, ActorRef, RpcReplyPort};

use super::ComponentStatus;

pub struct ExternalServices;

pub enum ExternalServicesMsg {
    Components(RpcReplyPort<Vec<ComponentStatus>>),
}

impl Actor for ExternalServices {
    type Msg = ExternalServicesMsg;
    type State = ();
    type Arguments = ();

    async fn pre_start(&self, _myself: ActorRef<ExternalServicesMsg>, _args: ()) -> Result<(), ActorProcessingErr> {
        Ok(())
    }

    async fn handle(
        &self,
        _myself: ActorRef<ExternalServicesMsg>,
        message: ExternalServicesMsg,
        _state: &mut (),
    ) -> Result<(), ActorProcessingErr> {
        match message {
            ExternalServicesMsg::Components(reply) => {
                let _ = reply.send(vec![ComponentStatus {
                    name: "external_services".into(),
                    status: "running".into(),
                    detail: "0 installed".into(),
                }]);
            }
        }
        Ok(())
    }
}
