//! `luna doctor`: asks the running Luna for its checks; when none runs, runs them here (and
//! says Luna is not running), so a Luna that cannot start gets its diagnosis too.

use super::{ApiClient, ClientError};
use crate::doctor::{Doctor, DoctorReport};
use crate::settings::{Flags, ProcessEnv, Settings, resolve_home};

/// The report; the caller exits non-zero unless it is healthy.
pub async fn run(client: &ApiClient, flags: &Flags) -> Result<DoctorReport, ClientError> {
    match client.get::<DoctorReport>("/api/supervisor/doctor").await {
        Err(ClientError::NotRunning { .. }) => Ok(match Settings::load(flags, &ProcessEnv) {
            Ok(settings) => Doctor::new(&settings).run(None).await,
            Err(error) => Doctor::without_settings(resolve_home(flags, &ProcessEnv).ok().as_ref(), &error),
        }),
        answer => answer,
    }
}
