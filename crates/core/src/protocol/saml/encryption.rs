//! XML Encryption as identity providers apply it to SAML (`EncryptedAssertion`,
//! `EncryptedID`): the content key wrapped with RSA-OAEP to our certificate, the
//! content in AES-GCM or AES-CBC. RSA PKCS #1 v1.5 key transport is refused (it is
//! open to Bleichenbacher's attack). Every failure to open the content reads the same,
//! so that the answer gives no padding oracle; the caller hides what follows as well
//! while nothing authenticated the ciphertext (see `response`).

use std::fmt;

use aes::cipher::{BlockDecryptMut, KeyIvInit};
use aes_gcm::aead::{Aead, KeyInit};
use aes_gcm::{Aes128Gcm, Aes256Gcm, Nonce};
use bergshamra_xml::uppsala::{Document, NodeId};

use super::credentials::{OaepHash, SpCredentials};
use super::xml::{self, DSIG};

pub const XENC: &str = "http://www.w3.org/2001/04/xmlenc#";
const XENC11: &str = "http://www.w3.org/2009/xmlenc11#";
const ELEMENT_TYPE: &str = "http://www.w3.org/2001/04/xmlenc#Element";

/// More wrapped keys than this in one element are refused unread: each costs an RSA
/// private-key operation.
const MAX_WRAPPED_KEYS: usize = 4;

/// Why an encrypted element was not opened.
#[non_exhaustive]
#[derive(Debug, Clone, PartialEq)]
pub enum Undecrypted {
    /// What is malformed.
    Shape(&'static str),
    /// RSA PKCS #1 v1.5 key transport.
    Rsa15,
    /// Another key transport algorithm (named).
    KeyTransport(String),
    /// Another content algorithm (named).
    Content(String),
    /// No wrapped key opens with our keys.
    NotForUs,
    /// The content did not open: one reason whatever went wrong.
    Garbled,
}

impl fmt::Display for Undecrypted {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Self::Shape(what) => write!(f, "its encrypted {what} is malformed"),
            Self::Rsa15 => f.write_str(
                "its key is encrypted with RSA PKCS #1 v1.5 (rsa-1_5), which this broker refuses: have the identity provider use RSA-OAEP",
            ),
            Self::KeyTransport(uri) => write!(f, "its key is encrypted with `{uri}`: this broker takes RSA-OAEP"),
            Self::Content(uri) => write!(f, "it is encrypted with `{uri}`: this broker takes AES-GCM or AES-CBC, 128 or 256 bits"),
            Self::NotForUs => f.write_str("it is encrypted to a key that is not this broker's (saml_sp_cert)"),
            Self::Garbled => f.write_str("it could not be decrypted"),
        }
    }
}

/// A content encryption algorithm.
#[derive(Debug, Clone, Copy, PartialEq)]
enum Content {
    Aes128Cbc,
    Aes256Cbc,
    Aes128Gcm,
    Aes256Gcm,
}

impl Content {
    fn from_uri(uri: &str) -> Option<Self> {
        match uri {
            "http://www.w3.org/2001/04/xmlenc#aes128-cbc" => Some(Self::Aes128Cbc),
            "http://www.w3.org/2001/04/xmlenc#aes256-cbc" => Some(Self::Aes256Cbc),
            "http://www.w3.org/2009/xmlenc11#aes128-gcm" => Some(Self::Aes128Gcm),
            "http://www.w3.org/2009/xmlenc11#aes256-gcm" => Some(Self::Aes256Gcm),
            _ => None,
        }
    }

    fn key_len(self) -> usize {
        match self {
            Self::Aes128Cbc | Self::Aes128Gcm => 16,
            Self::Aes256Cbc | Self::Aes256Gcm => 32,
        }
    }

    /// GCM refuses any change to the ciphertext; CBC does not.
    fn authenticates(self) -> bool {
        matches!(self, Self::Aes128Gcm | Self::Aes256Gcm)
    }

    fn decrypt(self, key: &[u8], data: &[u8]) -> Option<Vec<u8>> {
        match self {
            Self::Aes128Cbc => cbc_decrypt::<aes::Aes128>(key, data),
            Self::Aes256Cbc => cbc_decrypt::<aes::Aes256>(key, data),
            Self::Aes128Gcm => gcm_decrypt(Aes128Gcm::new_from_slice(key).ok()?, data),
            Self::Aes256Gcm => gcm_decrypt(Aes256Gcm::new_from_slice(key).ok()?, data),
        }
    }
}

/// The algorithm URIs our metadata announces, the preferred first.
pub const ACCEPTED_ALGORITHMS: [&str; 6] = [
    "http://www.w3.org/2009/xmlenc11#aes256-gcm",
    "http://www.w3.org/2009/xmlenc11#aes128-gcm",
    "http://www.w3.org/2001/04/xmlenc#aes256-cbc",
    "http://www.w3.org/2001/04/xmlenc#aes128-cbc",
    "http://www.w3.org/2009/xmlenc11#rsa-oaep",
    "http://www.w3.org/2001/04/xmlenc#rsa-oaep-mgf1p",
];

/// An opened element: its text, and whether the cipher itself vouches that it is what
/// was encrypted.
pub struct Decrypted {
    pub text: String,
    pub authenticated: bool,
}

/// Opens `holder` (an `EncryptedAssertion` or `EncryptedID`): its one `EncryptedData`,
/// with a content key from an `EncryptedKey` inside it or beside it.
pub fn decrypt(doc: &Document<'_>, holder: NodeId, credentials: &SpCredentials) -> Result<Decrypted, Undecrypted> {
    let children = xml::element_children(doc, holder);
    let data = match xml::children(doc, holder, XENC, "EncryptedData").as_slice() {
        [only] => *only,
        _ => return Err(Undecrypted::Shape("element (it needs exactly one EncryptedData)")),
    };
    if children.iter().any(|child| *child != data && !xml::is(doc, *child, XENC, "EncryptedKey")) {
        return Err(Undecrypted::Shape("element (it holds more than EncryptedData and EncryptedKey)"));
    }
    if xml::attribute(doc, data, "Type").is_some_and(|kind| kind != ELEMENT_TYPE) {
        return Err(Undecrypted::Shape("data (it is not an element)"));
    }
    let method = xml::only_child(doc, data, XENC, "EncryptionMethod").ok_or(Undecrypted::Shape("data (no EncryptionMethod)"))?;
    let uri = xml::attribute(doc, method, "Algorithm").unwrap_or("");
    let content = Content::from_uri(uri).ok_or_else(|| Undecrypted::Content(xml::shown(uri)))?;
    let ciphertext = cipher_value(doc, data).ok_or(Undecrypted::Shape("data (no CipherValue in base64)"))?;

    let inside = xml::children(doc, data, DSIG, "KeyInfo").into_iter().flat_map(|info| xml::children(doc, info, XENC, "EncryptedKey"));
    let wrapped: Vec<NodeId> = inside.chain(xml::children(doc, holder, XENC, "EncryptedKey")).collect();
    if wrapped.is_empty() || wrapped.len() > MAX_WRAPPED_KEYS {
        return Err(Undecrypted::Shape("data (it needs one to four EncryptedKey)"));
    }
    let mut content_key = None;
    for encrypted_key in wrapped {
        let (digest, mgf) = key_transport(doc, encrypted_key)?;
        let value = cipher_value(doc, encrypted_key).ok_or(Undecrypted::Shape("key (no CipherValue in base64)"))?;
        content_key = credentials.decrypting().find_map(|pair| pair.unwrap_key(digest, mgf, &value));
        if content_key.is_some() {
            break;
        }
    }
    let content_key = content_key.ok_or(Undecrypted::NotForUs)?;
    if content_key.len() != content.key_len() {
        return Err(Undecrypted::Garbled);
    }
    let plaintext = content.decrypt(&content_key, &ciphertext).ok_or(Undecrypted::Garbled)?;
    let text = String::from_utf8(plaintext).map_err(|_| Undecrypted::Garbled)?;
    Ok(Decrypted { text, authenticated: content.authenticates() })
}

/// The RSA-OAEP hashes of an `EncryptedKey`'s method: SHA-1 unless a `DigestMethod`
/// (and, in XML Encryption 1.1, an `MGF`) says otherwise.
fn key_transport(doc: &Document<'_>, encrypted_key: NodeId) -> Result<(OaepHash, OaepHash), Undecrypted> {
    let method = xml::only_child(doc, encrypted_key, XENC, "EncryptionMethod").ok_or(Undecrypted::Shape("key (no EncryptionMethod)"))?;
    let uri = xml::attribute(doc, method, "Algorithm").unwrap_or("");
    let hash = |node: Option<NodeId>, sha1: &str, sha256: &str| match node.map(|node| xml::attribute(doc, node, "Algorithm").unwrap_or(""))
    {
        None => Ok(OaepHash::Sha1),
        Some(found) if found == sha1 => Ok(OaepHash::Sha1),
        Some(found) if found == sha256 => Ok(OaepHash::Sha256),
        Some(found) => Err(Undecrypted::KeyTransport(format!("{uri} with {}", xml::shown(found)))),
    };
    if !xml::children(doc, method, XENC, "OAEPparams").is_empty() {
        return Err(Undecrypted::KeyTransport(format!("{} with OAEPparams", xml::shown(uri))));
    }
    let digest = || {
        let node = xml::only_child(doc, method, DSIG, "DigestMethod");
        hash(node, "http://www.w3.org/2000/09/xmldsig#sha1", "http://www.w3.org/2001/04/xmlenc#sha256")
    };
    match uri {
        "http://www.w3.org/2001/04/xmlenc#rsa-oaep-mgf1p" => Ok((digest()?, OaepHash::Sha1)),
        "http://www.w3.org/2009/xmlenc11#rsa-oaep" => {
            let mgf = xml::only_child(doc, method, XENC11, "MGF");
            Ok((digest()?, hash(mgf, "http://www.w3.org/2009/xmlenc11#mgf1sha1", "http://www.w3.org/2009/xmlenc11#mgf1sha256")?))
        }
        "http://www.w3.org/2001/04/xmlenc#rsa-1_5" => Err(Undecrypted::Rsa15),
        other => Err(Undecrypted::KeyTransport(xml::shown(other))),
    }
}

fn cipher_value(doc: &Document<'_>, node: NodeId) -> Option<Vec<u8>> {
    let cipher_data = xml::only_child(doc, node, XENC, "CipherData")?;
    let value = xml::only_child(doc, cipher_data, XENC, "CipherValue")?;
    xml::base64(&xml::text(doc, value)?)
}

/// AES-CBC as XML Encryption uses it: the IV first, and padding whose last byte says how
/// many bytes to drop (the others are arbitrary, so they are not checked).
fn cbc_decrypt<C>(key: &[u8], data: &[u8]) -> Option<Vec<u8>>
where
    C: aes::cipher::BlockCipher + aes::cipher::BlockDecrypt + aes::cipher::KeyInit,
{
    const BLOCK: usize = 16;
    if data.len() < 2 * BLOCK || !data.len().is_multiple_of(BLOCK) {
        return None;
    }
    let (iv, body) = data.split_at(BLOCK);
    let mut plaintext = body.to_vec();
    let decryptor = cbc::Decryptor::<C>::new_from_slices(key, iv).ok()?;
    decryptor.decrypt_padded_mut::<aes::cipher::block_padding::NoPadding>(&mut plaintext).ok()?;
    let padding = usize::from(*plaintext.last()?);
    if padding == 0 || padding > BLOCK {
        return None;
    }
    plaintext.truncate(plaintext.len() - padding);
    Some(plaintext)
}

/// AES-GCM as XML Encryption 1.1 uses it: a 96-bit IV first, the 128-bit tag last.
fn gcm_decrypt(cipher: impl Aead<NonceSize = aes_gcm::aead::consts::U12>, data: &[u8]) -> Option<Vec<u8>> {
    const IV: usize = 12;
    if data.len() < IV + 16 {
        return None;
    }
    let (iv, sealed) = data.split_at(IV);
    cipher.decrypt(Nonce::from_slice(iv), sealed).ok()
}

#[cfg(test)]
pub(crate) mod tests {
    use aes::cipher::{BlockEncryptMut, KeyIvInit};
    use aes_gcm::aead::{Aead, KeyInit};
    use aes_gcm::{Aes128Gcm, Nonce};
    use base64::Engine;
    use base64::engine::general_purpose::STANDARD;
    use rsa_fast::Oaep;

    use crate::protocol::key_pair::KeyPair;
    use crate::protocol::signing_key::rsa_key_from_certificate;

    /// How a test encrypts: AES-128-GCM or AES-128-CBC content, RSA-OAEP (SHA-1) key.
    #[derive(Clone, Copy)]
    pub(crate) enum TestCipher {
        Gcm,
        Cbc,
    }

    /// `plaintext` encrypted to `recipient`'s certificate as an `EncryptedData`, the
    /// way identity providers write it (the wrapped key inside its `KeyInfo`). For the
    /// tests that need what xmlsec1's fixtures do not give: an attacker's own
    /// ciphertexts.
    pub(crate) fn encrypted_data(recipient: &KeyPair, plaintext: &str, cipher: TestCipher) -> String {
        let key = [7u8; 16];
        let (algorithm, data) = match cipher {
            TestCipher::Gcm => {
                let iv = [3u8; 12];
                let sealed = Aes128Gcm::new_from_slice(&key).unwrap().encrypt(Nonce::from_slice(&iv), plaintext.as_bytes()).unwrap();
                ("http://www.w3.org/2009/xmlenc11#aes128-gcm", [iv.as_slice(), &sealed].concat())
            }
            TestCipher::Cbc => {
                let iv = [5u8; 16];
                let padding = 16 - plaintext.len() % 16;
                let mut sealed = [plaintext.as_bytes(), &vec![padding as u8; padding]].concat();
                let length = sealed.len();
                cbc::Encryptor::<aes::Aes128>::new_from_slices(&key, &iv)
                    .unwrap()
                    .encrypt_padded_mut::<aes::cipher::block_padding::NoPadding>(&mut sealed, length)
                    .unwrap();
                ("http://www.w3.org/2001/04/xmlenc#aes128-cbc", [iv.as_slice(), &sealed].concat())
            }
        };
        let public = rsa_key_from_certificate(&STANDARD.decode(recipient.certificate()).unwrap()).unwrap();
        let wrapped = public.encrypt(&mut getrandom::SysRng, Oaep::<sha1::Sha1>::new(), &key).unwrap();
        format!(
            concat!(
                r#"<xenc:EncryptedData xmlns:xenc="http://www.w3.org/2001/04/xmlenc#" Type="http://www.w3.org/2001/04/xmlenc#Element">"#,
                r#"<xenc:EncryptionMethod Algorithm="{}"/><ds:KeyInfo xmlns:ds="http://www.w3.org/2000/09/xmldsig#"><xenc:EncryptedKey>"#,
                r#"<xenc:EncryptionMethod Algorithm="http://www.w3.org/2001/04/xmlenc#rsa-oaep-mgf1p"/>"#,
                r#"<xenc:CipherData><xenc:CipherValue>{}</xenc:CipherValue></xenc:CipherData></xenc:EncryptedKey></ds:KeyInfo>"#,
                r#"<xenc:CipherData><xenc:CipherValue>{}</xenc:CipherValue></xenc:CipherData></xenc:EncryptedData>"#
            ),
            algorithm,
            STANDARD.encode(wrapped),
            STANDARD.encode(data)
        )
    }
}
