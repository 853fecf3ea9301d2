//! The one XML parser the SAML code uses (`uppsala`, with DTDs refused and depth
//! bounded), and the few ways it reads a parsed document: by namespace and local name,
//! never by a prefix and never by a search for an `ID`.

use bergshamra_xml::uppsala::{Document, NodeId, NodeKind, Parser};

use crate::state::UnixTime;

pub const PROTOCOL: &str = "urn:oasis:names:tc:SAML:2.0:protocol";
pub const ASSERTION: &str = "urn:oasis:names:tc:SAML:2.0:assertion";
pub const METADATA: &str = "urn:oasis:names:tc:SAML:2.0:metadata";
pub const DSIG: &str = "http://www.w3.org/2000/09/xmldsig#";

/// Deeper than any SAML answer nests (a Response is about 6 levels deep).
const MAX_DEPTH: u32 = 32;

/// Parses `text`, refusing any DOCTYPE (so no entity can expand), deep nesting, and
/// a prefix declared for no namespace.
pub fn parse(text: &str) -> Result<Document<'_>, String> {
    let doc = Parser::new().with_forbid_dtd(true).with_max_depth(MAX_DEPTH).parse(text).map_err(|error| {
        let error = error.to_string();
        if error.to_ascii_lowercase().contains("doctype") || error.to_ascii_lowercase().contains("dtd") {
            "it holds a DOCTYPE, which SAML never needs".to_owned()
        } else {
            format!("it is not well-formed XML ({})", shown(&error))
        }
    })?;
    refuse_empty_prefix_declarations(&doc)?;
    Ok(doc)
}

/// `xmlns:p=""` is forbidden by Namespaces in XML 1.0 (§3), yet the parser takes it and
/// puts `p:` elements in no namespace, where every reader here skips them, while
/// exclusive C14N leaves it out, so the digest still holds: a signed element could be
/// hidden from the checks that read it. No document that declares one is read further.
fn refuse_empty_prefix_declarations(doc: &Document<'_>) -> Result<(), String> {
    for node in doc.descendants(doc.root()) {
        let Some(element) = doc.element(node) else { continue };
        if let Some((prefix, _)) = element.namespace_declarations.iter().find(|(prefix, uri)| !prefix.is_empty() && uri.is_empty()) {
            return Err(format!("it declares the prefix `{}` for no namespace, which XML forbids", shown(prefix)));
        }
    }
    Ok(())
}

pub fn in_namespace(doc: &Document<'_>, node: NodeId, namespace: &str) -> bool {
    doc.element(node).is_some_and(|element| element.name.namespace_uri.as_deref() == Some(namespace))
}

pub fn is(doc: &Document<'_>, node: NodeId, namespace: &str, local: &str) -> bool {
    doc.element(node).is_some_and(|element| element.name.matches(Some(namespace), local))
}

pub fn local_name<'d>(doc: &'d Document<'_>, node: NodeId) -> &'d str {
    doc.element(node).map_or("", |element| &element.name.local_name)
}

/// The element children of `node`, in order.
pub fn element_children(doc: &Document<'_>, node: NodeId) -> Vec<NodeId> {
    doc.children(node).into_iter().filter(|child| doc.element(*child).is_some()).collect()
}

/// The children of `node` named `local` in `namespace`.
pub fn children(doc: &Document<'_>, node: NodeId, namespace: &str, local: &str) -> Vec<NodeId> {
    doc.children(node).into_iter().filter(|child| is(doc, *child, namespace, local)).collect()
}

/// The one child of `node` so named; `None` when there is none or more than one.
pub fn only_child(doc: &Document<'_>, node: NodeId, namespace: &str, local: &str) -> Option<NodeId> {
    match children(doc, node, namespace, local).as_slice() {
        [only] => Some(*only),
        _ => None,
    }
}

/// Every element in the document so named, wherever it is.
pub fn everywhere(doc: &Document<'_>, namespace: &str, local: &str) -> Vec<NodeId> {
    doc.descendants(doc.root()).into_iter().filter(|node| is(doc, *node, namespace, local)).collect()
}

/// An attribute without a namespace (SAML's own attributes have none).
pub fn attribute<'d>(doc: &'d Document<'_>, node: NodeId, name: &str) -> Option<&'d str> {
    let element = doc.element(node)?;
    element
        .attributes
        .iter()
        .find(|attribute| attribute.name.namespace_uri.is_none() && *attribute.name.local_name == *name)
        .map(|a| &*a.value)
}

/// The text of an element that holds only text: `None` when it holds anything else.
/// A comment inside a value is refused, not skipped: the signature (C14N without
/// comments) covers the text around it as one, while a reader that stops at the
/// comment would see a shorter value (the NameID truncation attack).
pub fn text(doc: &Document<'_>, node: NodeId) -> Option<String> {
    let mut text = String::new();
    for child in doc.children(node) {
        match doc.node_kind(child)? {
            NodeKind::Text(part) | NodeKind::CData(part) => text.push_str(part),
            _ => return None,
        }
    }
    Some(text)
}

/// Whether `node` holds a comment or processing instruction anywhere below it.
pub fn holds_comments(doc: &Document<'_>, node: NodeId) -> bool {
    doc.descendants(node)
        .into_iter()
        .any(|child| matches!(doc.node_kind(child), Some(NodeKind::Comment(_) | NodeKind::ProcessingInstruction(_))))
}

/// `fragment` (decrypted XML) wrapped in an element that declares every namespace in
/// scope at `node`, where it was encrypted, so that it reads (and canonicalizes) as it
/// did in place. Parse the result with [`parse`]; [`wrapped_element`] takes it out.
pub fn in_context_of(doc: &Document<'_>, node: NodeId, fragment: &str) -> String {
    let mut declared: Vec<(&str, &str)> = Vec::new();
    let mut at = Some(node);
    while let Some(current) = at {
        if let Some(element) = doc.element(current) {
            for (prefix, uri) in &element.namespace_declarations {
                if !declared.iter().any(|(known, _)| known == prefix) {
                    declared.push((prefix, uri));
                }
            }
        }
        at = doc.parent(current);
    }
    let mut wrapper = String::from("<decrypted");
    for (prefix, uri) in declared {
        let name = if prefix.is_empty() { "xmlns".to_owned() } else { format!("xmlns:{prefix}") };
        wrapper.push_str(&format!(r#" {name}="{}""#, crate::base::markup::escape(uri)));
    }
    format!("{wrapper}>{fragment}</decrypted>")
}

/// The one element a parsed [`in_context_of`] holds, with nothing but white space
/// beside it; `None` otherwise.
pub fn wrapped_element(doc: &Document<'_>) -> Option<NodeId> {
    let wrapper = doc.document_element()?;
    let mut element = None;
    for child in doc.children(wrapper) {
        match doc.node_kind(child)? {
            NodeKind::Element(_) if element.is_none() => element = Some(child),
            NodeKind::Text(text) if text.trim().is_empty() => {}
            _ => return None,
        }
    }
    element
}

/// Base64 as SAML carries it (signatures, ciphertexts, posted messages): wrapped on
/// several lines.
pub fn base64(text: &str) -> Option<Vec<u8>> {
    use base64::Engine;
    let compact: String = text.chars().filter(|c| !c.is_ascii_whitespace()).collect();
    base64::engine::general_purpose::STANDARD.decode(compact).ok()
}

/// An instant as SAML writes it: `xs:dateTime` in UTC, to the second.
pub fn instant(at: UnixTime) -> impl std::fmt::Display {
    chrono::DateTime::from_timestamp(at as i64, 0).unwrap_or_default().format("%Y-%m-%dT%H:%M:%SZ")
}

/// `text` as an error message may show it: printable ASCII, at most 80 characters.
pub fn shown(text: &str) -> String {
    text.chars().filter(|c| c.is_ascii_graphic() || *c == ' ').take(80).collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_prefix_declared_for_no_namespace_is_refused_wherever_it_is() {
        let signed = r#"<r xmlns:saml="urn:oasis:names:tc:SAML:2.0:assertion"><saml:a><saml:b xmlns:saml="">x</saml:b></saml:a></r>"#;
        assert!(parse(signed).unwrap_err().contains("prefix `saml` for no namespace"));
        assert!(parse(r#"<r xmlns:p=''/>"#).unwrap_err().contains("prefix `p`"));
        // The default namespace may be undeclared: unprefixed names are in no namespace alike for every reader.
        assert!(parse(r#"<r xmlns="urn:x"><a xmlns="">x</a></r>"#).is_ok());
    }
}
