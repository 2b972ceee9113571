//! `luna doctor` inside the running Luna: the checks of [`crate::doctor`] with what only the
//! running instance knows (its status, certificate, extensions and processes).

use super::{AppError, Luna};
use crate::doctor::{DoctorReport, Running};

impl Luna {
    pub async fn doctor(&self) -> Result<DoctorReport, AppError> {
        let (status, extensions, services) =
            tokio::join!(self.status(), self.supervisor.extensions(), self.supervisor.services());
        let running = Running { status: status?, extensions: extensions?, services: services? };
        Ok(self.doctor.run(Some(&running)).await)
    }
}
