//! RSA signing keys: the portal's client key (for `private_key_jwt` assertions) and the NHS login
//! simulator's token-signing key. Signs RS512 with `jsonwebtoken` on `aws-lc-rs` (not the
//! RustCrypto `rsa` crate, which has an open timing advisory for private-key operations).

use base64::Engine;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use jsonwebtoken::jwk::Jwk;
use jsonwebtoken::{Algorithm, EncodingKey, Header};
use serde::Serialize;
use sha2::Digest;

/// Why a key could not be loaded or used.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum KeyError {
    /// The text is not PEM, or not an RSA private key in PKCS#1 or PKCS#8 form.
    #[error("not an RSA private key in PEM (PKCS#1 or PKCS#8): {0}")]
    InvalidPem(String),
    /// Generating a key failed.
    #[error("RSA key generation failed")]
    Generation,
    /// Signing failed.
    #[error("signing failed: {0}")]
    Signing(String),
}

/// An RSA private key that signs RS512 JWTs, with its public half as a JWK.
///
/// Its `Debug` output shows only the key id.
///
/// ```
/// use nhs_portal_web::nhs_login::RsaSigningKey;
/// let key = RsaSigningKey::generate().unwrap();
/// let again = RsaSigningKey::from_pem(&key.private_key_pem()).unwrap();
/// assert_eq!(key.kid(), again.kid());
/// ```
#[derive(Clone)]
pub struct RsaSigningKey {
    kid: String,
    encoding: EncodingKey,
    n: String,
    e: String,
    pkcs8_der: Option<Vec<u8>>,
    pem: String,
}

impl std::fmt::Debug for RsaSigningKey {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("RsaSigningKey")
            .field("kid", &self.kid)
            .finish_non_exhaustive()
    }
}

impl RsaSigningKey {
    /// Generates a fresh 2048-bit key (the size NHS login registers).
    pub fn generate() -> Result<Self, KeyError> {
        use aws_lc_rs::encoding::AsDer;
        let pair = aws_lc_rs::rsa::KeyPair::generate(aws_lc_rs::rsa::KeySize::Rsa2048)
            .map_err(|_| KeyError::Generation)?;
        let der = pair.as_der().map_err(|_| KeyError::Generation)?;
        let pem = pem::encode(&pem::Pem::new("PRIVATE KEY", der.as_ref().to_vec()));
        Self::from_pem(&pem)
    }

    /// Loads a PEM private key: PKCS#8 (`BEGIN PRIVATE KEY`, what `openssl genpkey` writes) or
    /// PKCS#1 (`BEGIN RSA PRIVATE KEY`).
    pub fn from_pem(pem_text: &str) -> Result<Self, KeyError> {
        let parsed =
            pem::parse(pem_text.trim()).map_err(|e| KeyError::InvalidPem(e.to_string()))?;
        let (pair, pkcs8_der) = match parsed.tag() {
            "PRIVATE KEY" => (
                aws_lc_rs::rsa::KeyPair::from_pkcs8(parsed.contents())
                    .map_err(|e| KeyError::InvalidPem(e.to_string()))?,
                Some(parsed.contents().to_vec()),
            ),
            "RSA PRIVATE KEY" => (
                aws_lc_rs::rsa::KeyPair::from_der(parsed.contents())
                    .map_err(|e| KeyError::InvalidPem(e.to_string()))?,
                None,
            ),
            other => {
                return Err(KeyError::InvalidPem(format!(
                    "unexpected PEM label {other}"
                )));
            }
        };
        let encoding = EncodingKey::from_rsa_pem(pem_text.trim().as_bytes())
            .map_err(|e| KeyError::InvalidPem(e.to_string()))?;
        let public = aws_lc_rs::signature::KeyPair::public_key(&pair);
        let n_bytes = public.modulus().big_endian_without_leading_zero().to_vec();
        let e_bytes = public.exponent().big_endian_without_leading_zero().to_vec();
        let n = URL_SAFE_NO_PAD.encode(&n_bytes);
        let e = URL_SAFE_NO_PAD.encode(&e_bytes);
        // The key id is a digest of the public key, so it is stable for a given key.
        let digest = sha2::Sha256::digest(format!("{n}.{e}").as_bytes());
        let kid = URL_SAFE_NO_PAD.encode(&digest[..16]);
        Ok(Self {
            kid,
            encoding,
            n,
            e,
            pkcs8_der,
            pem: pem_text.trim().to_owned(),
        })
    }

    /// The key id, also in the header of every JWT this key signs.
    pub fn kid(&self) -> &str {
        &self.kid
    }

    /// The private key as PEM, in the form it was loaded (PKCS#8 for generated keys).
    pub fn private_key_pem(&self) -> String {
        self.pem.clone()
    }

    /// The public key as a PEM `PUBLIC KEY` (SubjectPublicKeyInfo), the form NHS login
    /// registers, when the key was generated or loaded as PKCS#8.
    pub fn public_key_pem(&self) -> Option<String> {
        use aws_lc_rs::encoding::AsDer;
        let der = self.pkcs8_der.as_ref()?;
        let pair = aws_lc_rs::rsa::KeyPair::from_pkcs8(der).ok()?;
        let spki = aws_lc_rs::signature::KeyPair::public_key(&pair)
            .as_der()
            .ok()?;
        Some(pem::encode(&pem::Pem::new(
            "PUBLIC KEY",
            spki.as_ref().to_vec(),
        )))
    }

    /// The public key as a JWK (`kty` RSA, `alg` RS512, `use` sig, `kid`).
    pub fn public_jwk_json(&self) -> serde_json::Value {
        serde_json::json!({
            "kty": "RSA",
            "use": "sig",
            "alg": "RS512",
            "kid": self.kid,
            "n": self.n,
            "e": self.e,
        })
    }

    /// The public key as a `jsonwebtoken` JWK.
    pub fn public_jwk(&self) -> Jwk {
        serde_json::from_value(self.public_jwk_json()).expect("a well-formed RSA JWK always parses")
    }

    /// Signs `claims` as an RS512 JWT with header `typ: JWT` and this key's `kid`.
    pub fn sign<T: Serialize>(&self, claims: &T) -> Result<String, KeyError> {
        let mut header = Header::new(Algorithm::RS512);
        header.typ = Some("JWT".into());
        header.kid = Some(self.kid.clone());
        jsonwebtoken::encode(&header, claims, &self.encoding)
            .map_err(|e| KeyError::Signing(e.to_string()))
    }
}
