//! The one shape of XML signature a SAML answer may carry, and nothing else: an
//! enveloped signature, the element's own child, whose single reference names that
//! element by its `ID`, transformed by enveloped-signature and exclusive C14N only,
//! with RSA and SHA-2 from an allow-list, verified with the identity provider's keys
//! from configuration or metadata (never a key from the message's `KeyInfo`). The
//! caller then reads claims from the very element this checked, in the same parsed
//! document: what was verified is what is read.
//!
//! Canonicalization is `bergshamra-c14n`'s (tested against xmlsec's suite); RSA and
//! SHA-2 are RustCrypto's. What is ours is the refusal of every other shape, which is
//! where signature wrapping lives.

use bergshamra_c14n::exclusive;
use bergshamra_xml::NodeSet;
use bergshamra_xml::uppsala::{Document, NodeId};
use rsa_fast::PublicKey;
use rsa_fast::pkcs1v15::{Signature, VerifyingKey};
use rsa_fast::signature::Verifier;
use sha2_fast::{Digest, Sha256, Sha384, Sha512};
use subtle::ConstantTimeEq;

use super::xml::{self, DSIG};

const EXC_C14N: &str = "http://www.w3.org/2001/10/xml-exc-c14n#";
const ENVELOPED: &str = "http://www.w3.org/2000/09/xmldsig#enveloped-signature";
const EXC_C14N_NS: &str = "http://www.w3.org/2001/10/xml-exc-c14n#";

/// SHA-2 digests, by their XML-DSig names. SHA-1 is not among them.
#[derive(Debug, Clone, Copy, PartialEq)]
enum Hash {
    Sha256,
    Sha384,
    Sha512,
}

impl Hash {
    fn digest_method(uri: &str) -> Option<Self> {
        match uri {
            "http://www.w3.org/2001/04/xmlenc#sha256" => Some(Self::Sha256),
            "http://www.w3.org/2001/04/xmldsig-more#sha384" => Some(Self::Sha384),
            "http://www.w3.org/2001/04/xmlenc#sha512" => Some(Self::Sha512),
            _ => None,
        }
    }

    /// RSA PKCS #1 v1.5 with this hash.
    fn rsa_signature_method(uri: &str) -> Option<Self> {
        match uri {
            "http://www.w3.org/2001/04/xmldsig-more#rsa-sha256" => Some(Self::Sha256),
            "http://www.w3.org/2001/04/xmldsig-more#rsa-sha384" => Some(Self::Sha384),
            "http://www.w3.org/2001/04/xmldsig-more#rsa-sha512" => Some(Self::Sha512),
            _ => None,
        }
    }

    fn digest(self, bytes: &[u8]) -> Vec<u8> {
        match self {
            Self::Sha256 => Sha256::digest(bytes).to_vec(),
            Self::Sha384 => Sha384::digest(bytes).to_vec(),
            Self::Sha512 => Sha512::digest(bytes).to_vec(),
        }
    }

    fn verify(self, key: &PublicKey, message: &[u8], signature: &Signature) -> bool {
        match self {
            Self::Sha256 => VerifyingKey::<Sha256>::new(key.clone()).verify(message, signature).is_ok(),
            Self::Sha384 => VerifyingKey::<Sha384>::new(key.clone()).verify(message, signature).is_ok(),
            Self::Sha512 => VerifyingKey::<Sha512>::new(key.clone()).verify(message, signature).is_ok(),
        }
    }
}

/// Whether `element` carries a signature, checked.
pub enum Signed {
    Yes,
    No,
}

/// Checks the signature that is `element`'s own child, if any: `Ok(Signed::No)` when
/// it has none, an error naming what is wrong when it has one that does not verify
/// under one of `keys` or has any other shape than the one described above.
pub fn check_enveloped(doc: &Document<'_>, element: NodeId, keys: &[PublicKey], what: &str) -> Result<Signed, String> {
    let refuse = |why: &str| Err(format!("the {what}'s signature {why}"));
    let signatures = xml::children(doc, element, DSIG, "Signature");
    let signature = match signatures.as_slice() {
        [] => return Ok(Signed::No),
        [signature] => *signature,
        _ => return refuse("appears twice"),
    };
    let id = xml::attribute(doc, element, "ID").unwrap_or("");
    if id.is_empty() {
        return refuse("signs an element without an ID");
    }
    // SignedInfo, SignatureValue, and an optional KeyInfo that is never used: the keys
    // are the configured ones. Anything else (an Object holding a second assertion) is refused.
    let (parts, names) = dsig_parts(doc, signature);
    if !matches!(names.as_slice(), ["SignedInfo", "SignatureValue"] | ["SignedInfo", "SignatureValue", "KeyInfo"]) {
        return refuse("has other parts than SignedInfo, SignatureValue and KeyInfo");
    }
    let (signed_info, signature_value) = (parts[0], parts[1]);

    let (info, info_names) = dsig_parts(doc, signed_info);
    if info_names != ["CanonicalizationMethod", "SignatureMethod", "Reference"] {
        return refuse("does not sign exactly one reference");
    }
    let algorithm = |node: NodeId| xml::attribute(doc, node, "Algorithm").unwrap_or("");
    if algorithm(info[0]) != EXC_C14N {
        return refuse("is not canonicalized with exclusive C14N");
    }
    let Some(signature_hash) = Hash::rsa_signature_method(algorithm(info[1])) else {
        return refuse(&format!("uses `{}`, not RSA with SHA-256, SHA-384 or SHA-512", xml::shown(algorithm(info[1]))));
    };

    let reference = info[2];
    if xml::attribute(doc, reference, "URI") != Some(&format!("#{id}")) {
        return refuse("does not cover the element that holds it");
    }
    let (reference_parts, reference_names) = dsig_parts(doc, reference);
    if reference_names != ["Transforms", "DigestMethod", "DigestValue"] {
        return refuse("has a malformed reference");
    }
    let (transforms, transform_names) = dsig_parts(doc, reference_parts[0]);
    let transform_algorithms: Vec<&str> = transforms.iter().map(|transform| algorithm(*transform)).collect();
    if transform_names != ["Transform", "Transform"] || transform_algorithms != [ENVELOPED, EXC_C14N] {
        return refuse("uses other transforms than enveloped-signature, then exclusive C14N");
    }
    let Some(digest_hash) = Hash::digest_method(algorithm(reference_parts[1])) else {
        return refuse(&format!("digests with `{}`, not SHA-256, SHA-384 or SHA-512", xml::shown(algorithm(reference_parts[1]))));
    };

    // The element without its signature, as exclusive C14N writes it.
    let covered = NodeSet::tree_without_comments(element, doc).subtract(&NodeSet::tree_with_comments(signature, doc));
    let Some(digest) = canonical(doc, &covered, transforms[1]).map(|bytes| digest_hash.digest(&bytes)) else {
        return refuse("cannot be canonicalized");
    };
    let stated = xml::base64(&xml::text(doc, reference_parts[2]).unwrap_or_default());
    if stated.is_none_or(|stated| !bool::from(stated.ct_eq(&digest))) {
        return refuse("does not match the content (it was changed after signing)");
    }

    let Some(signed_bytes) = canonical(doc, &NodeSet::tree_without_comments(signed_info, doc), info[0]) else {
        return refuse("cannot be canonicalized");
    };
    let Some(value) =
        xml::base64(&xml::text(doc, signature_value).unwrap_or_default()).and_then(|bytes| Signature::try_from(bytes.as_slice()).ok())
    else {
        return refuse("has a malformed value");
    };
    if keys.iter().any(|key| signature_hash.verify(key, &signed_bytes, &value)) {
        Ok(Signed::Yes)
    } else {
        refuse("is not made with the identity provider's key")
    }
}

/// Checks the signature of a message sent by the HTTP-Redirect binding (bindings
/// §3.4.4.1): over `field`, `RelayState` and `SigAlg` exactly as they appear in
/// `raw_query`, with RSA and SHA-2, under one of `keys`. `Ok(Signed::No)` when it has
/// neither `SigAlg` nor `Signature`.
pub fn check_query_signature(raw_query: &str, field: &str, keys: &[PublicKey]) -> Result<Signed, String> {
    let refuse = |why: &str| Err(format!("its signature {why}"));
    let raw = |name: &str| raw_query.split('&').find(|pair| pair.split('=').next() == Some(name));
    let decoded = |pair: &str| {
        percent_encoding::percent_decode_str(pair.split_once('=').map_or("", |(_, value)| value)).decode_utf8_lossy().into_owned()
    };
    let (algorithm, signature) = match (raw("SigAlg"), raw("Signature")) {
        (None, None) => return Ok(Signed::No),
        (Some(algorithm), Some(signature)) => (algorithm, decoded(signature)),
        _ => return refuse("is incomplete (SigAlg and Signature go together)"),
    };
    let Some(hash) = Hash::rsa_signature_method(&decoded(algorithm)) else {
        return refuse(&format!("uses `{}`, not RSA with SHA-256, SHA-384 or SHA-512", xml::shown(&decoded(algorithm))));
    };
    let signed: Vec<&str> = [raw(field), raw("RelayState"), Some(algorithm)].into_iter().flatten().collect();
    let Some(value) = xml::base64(&signature).and_then(|bytes| Signature::try_from(bytes.as_slice()).ok()) else {
        return refuse("has a malformed value");
    };
    if keys.iter().any(|key| hash.verify(key, signed.join("&").as_bytes(), &value)) {
        Ok(Signed::Yes)
    } else {
        refuse("is not made with the identity provider's key")
    }
}

/// The element children of a signature's `node`, and their names: the local name for
/// an XML-DSig element, `?` for any other, so that a foreign element never passes for
/// a signature's part.
fn dsig_parts<'d>(doc: &'d Document<'_>, node: NodeId) -> (Vec<NodeId>, Vec<&'d str>) {
    let parts = xml::element_children(doc, node);
    let names = parts.iter().map(|part| if xml::in_namespace(doc, *part, DSIG) { xml::local_name(doc, *part) } else { "?" }).collect();
    (parts, names)
}

/// Exclusive C14N of `nodes`, with the prefix list of `method`'s
/// `InclusiveNamespaces`, if it has one.
fn canonical(doc: &Document<'_>, nodes: &NodeSet, method: NodeId) -> Option<Vec<u8>> {
    let prefixes: Vec<&str> = xml::children(doc, method, EXC_C14N_NS, "InclusiveNamespaces")
        .first()
        .and_then(|list| xml::attribute(doc, *list, "PrefixList"))
        .map(|list| list.split_whitespace().collect())
        .unwrap_or_default();
    exclusive::canonicalize(doc, false, Some(nodes), &prefixes).ok()
}
