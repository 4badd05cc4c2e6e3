//! Bridges [`JwksForwardedVerifier`] to the PCA API's own (temporary) forwarded-token trait,
//! [`crate::fhir_api::ForwardedTokenVerifier`], so the API can use the real NHS login check now:
//! `Arc::new(JwksForwardedVerifier::new(..))` works where the API wants
//! `Arc<dyn fhir_api::ForwardedTokenVerifier>`. Delete this file when the two traits are unified.

use async_trait::async_trait;
use nhs_portal_core::NhsNumber;

use super::{ForwardedTokenVerifier, JwksForwardedVerifier, TokenError};
use crate::fhir_api::{ForwardedTokenError, VerifiedPatient};

impl From<TokenError> for ForwardedTokenError {
    fn from(e: TokenError) -> Self {
        match e {
            TokenError::IdentityLevelTooLow(_) => Self::NotP9,
            TokenError::NhsNumberMismatch => Self::NhsNumberMismatch,
            TokenError::KeysUnavailable(_) => Self::KeysUnavailable,
            _ => Self::Invalid,
        }
    }
}

#[async_trait]
impl crate::fhir_api::ForwardedTokenVerifier for JwksForwardedVerifier {
    async fn verify(
        &self,
        id_token: &str,
        expected: &NhsNumber,
    ) -> Result<VerifiedPatient, ForwardedTokenError> {
        let id = ForwardedTokenVerifier::verify(self, id_token, expected).await?;
        Ok(VerifiedPatient {
            nhs_number: id.nhs_number,
            date_of_birth: id.date_of_birth,
        })
    }
}

#[cfg(all(test, feature = "simulator"))]
mod tests {
    use std::sync::Arc;

    use super::*;
    use crate::nhs_login::{ForwardedTokenConfig, JwksCache};
    use crate::simulator::{SIMULATED_NHS_APP_CLIENT_ID, Simulator, SimulatorConfig};

    #[tokio::test]
    async fn the_pca_api_trait_gets_the_real_checks() {
        let sim = Simulator::new(SimulatorConfig::new("http://127.0.0.1:9/sim")).unwrap();
        let verifier: Arc<dyn crate::fhir_api::ForwardedTokenVerifier> =
            Arc::new(JwksForwardedVerifier::new(
                ForwardedTokenConfig::new(sim.issuer(), vec![SIMULATED_NHS_APP_CLIENT_ID.into()]),
                Arc::new(JwksCache::fixed(sim.jwks())),
            ));
        let n = |s: &str| NhsNumber::parse(s).unwrap();
        let token = sim
            .mint_id_token(&n("9000000009"), SIMULATED_NHS_APP_CLIENT_ID)
            .unwrap();
        let ok = verifier.verify(&token, &n("9000000009")).await.unwrap();
        assert_eq!(
            ok.date_of_birth,
            chrono::NaiveDate::from_ymd_opt(1980, 1, 2)
        );
        assert_eq!(
            verifier.verify(&token, &n("9000000017")).await.unwrap_err(),
            ForwardedTokenError::NhsNumberMismatch
        );
        let p5 = sim
            .mint_id_token(&n("9000000033"), SIMULATED_NHS_APP_CLIENT_ID)
            .unwrap();
        assert_eq!(
            verifier.verify(&p5, &n("9000000033")).await.unwrap_err(),
            ForwardedTokenError::NotP9
        );
        assert_eq!(
            verifier
                .verify("garbage", &n("9000000009"))
                .await
                .unwrap_err(),
            ForwardedTokenError::Invalid
        );
    }
}
