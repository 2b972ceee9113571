//! Requests to an app origin (`<app>.<site host>`): everything goes to the app, except the
//! login hop's callback ([`CALLBACK_PATH`]), which the gateway answers itself.
//!
//! ```text
//! <app origin>/x ─► app table lookup ─► cross-site write? 403
//!               ─► app session cookie (open local mode: none needed)
//!                    none: a page → state cookie + 302 to the Hub's /auth/app; else 401
//!               ─► the app, at its root, with X-Luna-User/-Role/-Identity (aud: the origin)
//! ```

use pingora::prelude::*;
use pingora::proxy::Session;

use super::cookies_of;
use super::responses::{LocalResponse, wants_html};
use super::routes::RouteTable;
use super::{Gateway, RequestCtx, path};
use crate::auth::Verdict;
use crate::auth::app_login::CALLBACK_PATH;
use crate::auth::redirect::safe_redirect;

impl Gateway {
    /// The request phase of a request to app `app`'s origin, whose routes are `routes`;
    /// `Ok(true)` if answered here.
    pub(super) async fn app_request(
        &self,
        session: &mut Session,
        ctx: &mut RequestCtx,
        app: &str,
        routes: &RouteTable,
    ) -> Result<bool> {
        let request = session.req_header();
        match path::canonicalize(request.uri.path()) {
            Ok(canonical) => ctx.path = canonical,
            Err(error) => {
                ctx.path = request.uri.path().to_string();
                LocalResponse::error(request, 400, "bad_path", &error.to_string())
                    .send(session, &ctx.request_id)
                    .await?;
                return Ok(true);
            }
        }
        if ctx.path == CALLBACK_PATH {
            self.redeem(session, app, &ctx.request_id).await?;
            return Ok(true);
        }
        let Some(route) = routes.lookup(&ctx.path).cloned() else {
            LocalResponse::error(request, 404, "no_route", "this app serves nothing here")
                .send(session, &ctx.request_id)
                .await?;
            return Ok(true);
        };
        ctx.route = Some(route);
        if self.site.is_cross_site_write_to(request, app) {
            let detail = "requests from other sites may not change this app";
            LocalResponse::error(request, 403, "cross_site", detail).send(session, &ctx.request_id).await?;
            return Ok(true);
        }
        ctx.streaming = super::is_streaming(request);
        if ctx.streaming {
            self.metrics.open_streams.inc();
        }
        match self.auth.check_app(cookies_of(request).as_deref(), app).await {
            Verdict::Allowed(user) => ctx.user = user,
            Verdict::Unauthenticated if wants_html(request) && request.method == "GET" => {
                self.hop_to_hub(session, app, &ctx.request_id).await?;
                return Ok(true);
            }
            Verdict::Unauthenticated => {
                let origin = self.site.app_origin(app).unwrap_or_default();
                let detail = format!("log in first: open {origin}/ in a browser");
                LocalResponse::error(request, 401, "unauthenticated", &detail).send(session, &ctx.request_id).await?;
                return Ok(true);
            }
            Verdict::Unavailable => {
                let detail = "sessions cannot be checked right now";
                LocalResponse::error(request, 503, "auth_unavailable", detail).send(session, &ctx.request_id).await?;
                return Ok(true);
            }
        }
        if ctx.user.is_some() {
            // The audience of the user's identity token.
            ctx.app_origin = self.site.app_origin(app);
        }
        Ok(false)
    }

    /// No app session yet: to the Hub, which knows the user, bound to this browser by a
    /// state cookie on the app's origin.
    async fn hop_to_hub(&self, session: &mut Session, app: &str, request_id: &str) -> Result<()> {
        let request = session.req_header();
        let state = crate::auth::random_token();
        let back = request.uri.path_and_query().map_or("/", |target| target.as_str());
        let location = format!(
            "{}/auth/app?app={app}&state={state}&rd={}",
            self.site.origin(),
            url_encode(&safe_redirect(Some(back)))
        );
        let state_cookie = self.auth.cookies.app_state_cookie(app, &state);
        LocalResponse::found(&location).with_cookie(state_cookie).send(session, request_id).await
    }

    /// `/__luna/callback?code&rd`: the code the Hub issued, redeemed with this browser's state
    /// cookie, becomes the app origin's session cookie.
    async fn redeem(&self, session: &mut Session, app: &str, request_id: &str) -> Result<()> {
        let request = session.req_header();
        let query = request.uri.query().unwrap_or_default();
        let param = |name: &str| {
            oauth2::url::form_urlencoded::parse(query.as_bytes())
                .find(|(key, _)| key == name)
                .map(|(_, value)| value.into_owned())
        };
        let cookies = &self.auth.cookies;
        let state = cookies.read_app_state(cookies_of(request).as_deref(), app);
        // Without the state cookie the code is still spent: a stolen link is good for nothing.
        let redeemed = match param("code") {
            Some(code) => self.auth.redeem_app_code(&code, app, &state.unwrap_or_default()).await,
            None => Ok(None),
        };
        let clear_state = cookies.clear_app_state_cookie(app);
        let response = match redeemed {
            Ok(Some(session_id)) => {
                let app_cookie = cookies.app_session_cookie(app, &session_id, self.auth.sessions.max_age());
                let rd = safe_redirect(param("rd").as_deref());
                LocalResponse::found(&rd).with_cookie(app_cookie)
            }
            Ok(None) => LocalResponse::error(
                request,
                403,
                "invalid_login_link",
                "this login link was used already, has expired, or was made for another app or browser: open the \
                 app again",
            ),
            Err(error) => {
                tracing::error!(%error, "cannot redeem an app login code");
                LocalResponse::error(request, 503, "auth_unavailable", "sessions cannot be checked right now")
            }
        };
        response.with_cookie(clear_state).send(session, request_id).await
    }
}

fn url_encode(text: &str) -> String {
    oauth2::url::form_urlencoded::byte_serialize(text.as_bytes()).collect()
}
