//! The tokens the simulator signs: ID-token claims, the vectors of trust, and the tokens it
//! mints directly for API tests (ID tokens, NHS App SSO assertions, client-credentials tokens).

use std::collections::HashSet;

use nhs_portal_core::NhsNumber;
use serde_json::{Value, json};

use super::{SIMULATED_NHS_APP_CLIENT_ID, Simulator, SimulatorError, TestPatient};
use crate::nhs_login::{DEFAULT_P9_VECTORS, KeyError};

impl Simulator {
    fn vtm(&self) -> String {
        let host = url::Url::parse(&self.config.issuer)
            .ok()
            .and_then(|u| u.host_str().map(str::to_owned))
            .unwrap_or_default();
        format!("{}/trustmark/{host}", self.config.issuer)
    }

    pub(super) fn id_token_claims(
        &self,
        p: &TestPatient,
        audience: &str,
        nonce: Option<&str>,
        vot: &str,
        scope: &str,
    ) -> (Value, String) {
        let now = self.clock.now().timestamp();
        let jti = uuid::Uuid::new_v4().to_string();
        let mut c = json!({
            "iss": self.config.issuer,
            "sub": p.subject(),
            "aud": audience,
            "iat": now,
            "auth_time": now,
            "exp": now + 3600,
            "jti": jti,
            "vot": vot,
            "vtm": self.vtm(),
        });
        if let Some(n) = nonce {
            c["nonce"] = json!(n);
        }
        add_profile_claims(&mut c, p, scope);
        (c, jti)
    }

    pub(super) fn vot_for(p: &TestPatient, vtr: &[String]) -> String {
        let level = p.identity_level.claim();
        vtr.iter()
            .find(|v| v.starts_with(level))
            .cloned()
            .unwrap_or_else(|| format!("{level}.Cp.Cd"))
    }

    /// Mints an NHS login ID token for a test patient, meant for `audience` (a client id; the PCA
    /// forwards the NHS App's, so typically [`SIMULATED_NHS_APP_CLIENT_ID`]), with scope
    /// `openid profile` and no nonce. Its `jti` is remembered so an SSO assertion can refer to it.
    pub fn mint_id_token(
        &self,
        nhs_number: &NhsNumber,
        audience: &str,
    ) -> Result<String, SimulatorError> {
        let p = self
            .patient(nhs_number)
            .ok_or(SimulatorError::UnknownPatient)?;
        let vot = Self::vot_for(p, &default_vtr());
        let (claims, jti) = self.id_token_claims(p, audience, None, &vot, "openid profile");
        let token = self.key.sign(&claims)?;
        let until = self.clock.now() + chrono::Duration::hours(1);
        self.lock()
            .issued_id_tokens
            .insert(jti, (nhs_number.clone(), until));
        Ok(token)
    }

    /// Mints what the NHS App appends to a deep link as `assertedLoginIdentity` for a patient it
    /// has signed in: a JWT (RS512, 60 seconds, single use) whose `code` is the `jti` of the
    /// (simulated) NHS App's ID token. Here the simulator signs it on the NHS App's behalf.
    pub fn mint_sso_assertion(&self, nhs_number: &NhsNumber) -> Result<String, SimulatorError> {
        let id_token = self.mint_id_token(nhs_number, SIMULATED_NHS_APP_CLIENT_ID)?;
        let claims: Value = jsonwebtoken::dangerous::insecure_decode::<Value>(&id_token)
            .map(|d| d.claims)
            .map_err(|e| SimulatorError::Key(KeyError::Signing(e.to_string())))?;
        let now = self.clock.now().timestamp();
        let assertion = json!({
            "code": claims["jti"],
            "iss": SIMULATED_NHS_APP_CLIENT_ID,
            "jti": uuid::Uuid::new_v4().to_string(),
            "iat": now,
            "exp": now + 60,
        });
        Ok(self.key.sign(&assertion)?)
    }

    /// Mints a client-credentials style bearer token (RS512 JWT signed by the simulator, one hour)
    /// for `client_id`, meant for `audience`: a stand-in for the tokens the PCA presents to the
    /// Get Appointments API in demos. Not an NHS login token.
    pub fn mint_client_credentials_token(
        &self,
        client_id: &str,
        audience: &str,
    ) -> Result<String, SimulatorError> {
        let now = self.clock.now().timestamp();
        Ok(self.key.sign(&json!({
            "iss": self.config.issuer,
            "sub": client_id,
            "client_id": client_id,
            "aud": audience,
            "iat": now,
            "exp": now + 3600,
            "jti": uuid::Uuid::new_v4().to_string(),
            "token_use": "access",
        }))?)
    }
}

pub(super) fn default_vtr() -> Vec<String> {
    DEFAULT_P9_VECTORS.iter().map(|s| s.to_string()).collect()
}

pub(super) fn valid_vector(v: &str) -> bool {
    let mut parts = v.split('.');
    matches!(parts.next(), Some("P0" | "P5" | "P9"))
        && parts.clone().count() >= 1
        && parts.all(|c| matches!(c, "Cp" | "Cd" | "Ck" | "Cm"))
}

/// Adds the patient's claims that `scope` grants (`profile`, `profile_extended`) to `c`: one list
/// for the ID token and `/userinfo`.
pub(super) fn add_profile_claims(c: &mut Value, p: &TestPatient, scope: &str) {
    let scopes: HashSet<&str> = scope.split(' ').collect();
    if scopes.contains("profile") {
        c["nhs_number"] = json!(p.nhs_number.as_str());
        c["birthdate"] = json!(p.date_of_birth.format("%Y-%m-%d").to_string());
        c["family_name"] = json!(p.family_name);
        c["identity_proofing_level"] = json!(p.identity_level.claim());
    }
    if scopes.contains("profile_extended") {
        c["given_name"] = json!(p.given_name);
    }
}
