//! The option table as TypeScript (for `header.d.ts`) and as Markdown (for `docs/api.md`).
//! The tests below fail when either file differs from what the table says; run them with
//! `STT_UPDATE_GENERATED=1` to rewrite the generated parts.

use super::{table, Default, Kind, OptionSet, Spec};

/// Lines between which a file holds generated text.
pub const BEGIN: &str = "BEGIN GENERATED from src/options/table.rs";
pub const END: &str = "END GENERATED";

fn ts_type(spec: &Spec, indent: usize) -> String {
    if let Some(t) = spec.ts_type {
        return t.to_owned();
    }
    match &spec.kind {
        Kind::Int { .. } | Kind::Number { .. } => "number".into(),
        Kind::Bool => "boolean".into(),
        Kind::Text { .. } => "string".into(),
        Kind::Names => "string[]".into(),
        Kind::Choice(choices) => choices
            .iter()
            .map(|c| format!("'{c}'"))
            .collect::<Vec<_>>()
            .join(" | "),
        Kind::Toggle(set) => format!("boolean | {}", object_type(set, indent)),
        Kind::Object(set) => object_type(set, indent),
    }
}

fn object_type(set: &OptionSet, indent: usize) -> String {
    // A set with an interface of its own is declared once and named.
    if !set.interface.is_empty() {
        return set.interface.to_owned();
    }
    let mut out = String::from("{\n");
    for s in set.specs {
        render_field(&mut out, s, indent + 2);
    }
    out.push_str(&" ".repeat(indent));
    out.push('}');
    out
}

/// The doc, then the range and the default, as sentences.
fn full_doc(spec: &Spec) -> String {
    // A required option's doc is what the error message says is required.
    let mut doc = if spec.required {
        format!("Required: {}", spec.doc)
    } else {
        spec.doc.to_owned()
    };
    if !doc.ends_with('.') {
        doc.push('.');
    }
    match spec.kind {
        Kind::Int { min, max } => doc.push_str(&format!(" An integer from {min} to {max}.")),
        Kind::Number { min, max } => doc.push_str(&format!(" A number from {min} to {max}.")),
        _ => {}
    }
    match spec.default {
        Default::None => {}
        Default::Int(n) => doc.push_str(&format!(" Default `{n}`.")),
        Default::Number(n) => doc.push_str(&format!(" Default `{n}`.")),
        Default::Bool(b) => doc.push_str(&format!(" Default `{b}`.")),
        Default::Choice(c) if c.bytes().all(|b| b.is_ascii_digit()) => {
            doc.push_str(&format!(" Default `{c}`."))
        }
        Default::Choice(c) => doc.push_str(&format!(" Default `'{c}'`.")),
        Default::Described(text) => doc.push_str(&format!(" Default: {text}.")),
    }
    doc
}

/// Words of `text` in lines of at most `width` characters.
fn wrap(text: &str, width: usize) -> Vec<String> {
    let mut lines = vec![String::new()];
    for word in text.split_whitespace() {
        let line = lines.last_mut().expect("never empty");
        if !line.is_empty() && line.len() + 1 + word.len() > width {
            lines.push(word.to_owned());
        } else {
            if !line.is_empty() {
                line.push(' ');
            }
            line.push_str(word);
        }
    }
    lines
}

fn render_field(out: &mut String, spec: &Spec, indent: usize) {
    let pad = " ".repeat(indent);
    let lines = wrap(&full_doc(spec), 96 - indent);
    if lines.len() == 1 {
        out.push_str(&format!("{pad}/** {} */\n", lines[0]));
    } else {
        out.push_str(&format!("{pad}/**\n"));
        for line in lines {
            out.push_str(&format!("{pad} * {line}\n"));
        }
        out.push_str(&format!("{pad} */\n"));
    }
    let optional = if spec.required { "" } else { "?" };
    out.push_str(&format!(
        "{pad}{}{optional}: {}\n",
        spec.name,
        ts_type(spec, indent)
    ));
}

/// One `export interface` per option set.
pub fn typescript() -> String {
    let mut out = String::new();
    for set in table::ALL {
        out.push_str(&format!(
            "/** {} */\nexport interface {} {{\n",
            set.doc, set.interface
        ));
        for spec in set.specs {
            render_field(&mut out, spec, 2);
        }
        out.push_str("}\n\n");
    }
    out.trim_end().to_owned() + "\n"
}

fn markdown_rows(out: &mut String, set: &OptionSet, prefix: &str) {
    for spec in set.specs {
        let kind = match &spec.kind {
            Kind::Object(set) if !set.interface.is_empty() => set.interface.to_owned(),
            Kind::Object(_) => "object".to_owned(),
            Kind::Toggle(_) => "boolean \\| object".to_owned(),
            _ => ts_type(spec, 0).replace('|', "\\|"),
        };
        let doc = full_doc(spec);
        out.push_str(&format!(
            "| `{prefix}{}` | `{kind}` | {} |\n",
            spec.name,
            doc.replace('|', "\\|")
        ));
        if let Kind::Object(nested) | Kind::Toggle(nested) = spec.kind {
            if !nested.interface.is_empty() {
                continue; // its own table
            }
            markdown_rows(out, nested, &format!("{prefix}{}.", spec.name));
        }
    }
}

/// One table per option set.
pub fn markdown() -> String {
    let mut out = String::new();
    for set in table::ALL {
        out.push_str(&format!("#### `{}`\n\n{}\n\n", set.interface, set.doc));
        out.push_str("| option | type | meaning |\n|---|---|---|\n");
        markdown_rows(&mut out, set, "");
        out.push('\n');
    }
    out.trim_end().to_owned() + "\n"
}

/// Replaces what lies between the `BEGIN`/`END` marker lines of `text`.
pub fn splice(text: &str, generated: &str) -> Option<String> {
    let begin = text.find(BEGIN)?;
    let after_begin = begin + text[begin..].find('\n')? + 1;
    let end_marker = text[after_begin..].find(END)? + after_begin;
    let end_line = text[..end_marker].rfind('\n')? + 1;
    Some(format!(
        "{}{generated}{}",
        &text[..after_begin],
        &text[end_line..]
    ))
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::path::Path;

    /// Compares (or, with `STT_UPDATE_GENERATED=1`, rewrites) a file's generated part.
    fn check(relative: &str, generated: &str) {
        let path = Path::new(env!("CARGO_MANIFEST_DIR")).join(relative);
        let text = std::fs::read_to_string(&path).unwrap();
        let expected = splice(&text, generated).expect("the file has BEGIN/END GENERATED lines");
        if std::env::var_os("STT_UPDATE_GENERATED").is_some() {
            std::fs::write(&path, expected).unwrap();
            return;
        }
        assert!(
            text == expected,
            "{relative} does not match src/options/table.rs: run \
             `STT_UPDATE_GENERATED=1 cargo test --lib options` and commit the result"
        );
    }

    #[test]
    fn header_dts_declares_exactly_the_option_table() {
        check("src/binding/header.d.ts", &typescript());
    }

    #[test]
    fn docs_api_lists_exactly_the_option_table() {
        check("docs/api.md", &markdown());
    }

    #[test]
    fn every_option_is_documented_with_a_sentence() {
        for set in table::ALL {
            for spec in set.specs {
                assert!(spec.doc.len() > 10, "{}", spec.name);
            }
        }
    }

    #[test]
    fn splice_keeps_what_surrounds_the_markers() {
        let text = format!("a\n// {BEGIN}\nold\n// {END}\nb\n");
        assert_eq!(
            splice(&text, "new\n").unwrap(),
            format!("a\n// {BEGIN}\nnew\n// {END}\nb\n")
        );
    }
}
