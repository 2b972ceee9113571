//! Logic-free templates: `{{name}}` is replaced by the form value `name` (or a built-in such as
//! `{{luna.ui_base_path}}`); nothing else is interpreted. The result is one string that goes
//! into one argument, one environment entry or one label — never into a shell command line.

use std::collections::BTreeMap;

/// The values a template may name: form values, rendered as text, and Luna's built-ins.
pub type Values = BTreeMap<String, String>;

/// Replaces every `{{name}}`; an unknown name or an unclosed `{{` is an error naming it.
pub fn render(template: &str, values: &Values) -> Result<String, String> {
    let mut out = String::with_capacity(template.len());
    let mut rest = template;
    while let Some(start) = rest.find("{{") {
        out.push_str(&rest[..start]);
        let after = &rest[start + 2..];
        let end = after.find("}}").ok_or_else(|| format!("`{template}` has an unclosed `{{{{`"))?;
        let name = after[..end].trim();
        let value =
            values.get(name).ok_or_else(|| format!("`{template}` names `{name}`, which is not a form field"))?;
        out.push_str(value);
        rest = &after[end + 2..];
    }
    out.push_str(rest);
    Ok(out)
}

/// The names a template refers to (to check a definition against its form).
pub fn names(template: &str) -> Vec<String> {
    let mut names = Vec::new();
    let mut rest = template;
    while let Some(start) = rest.find("{{") {
        let after = &rest[start + 2..];
        let Some(end) = after.find("}}") else { break };
        names.push(after[..end].trim().to_string());
        rest = &after[end + 2..];
    }
    names
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn fills_names_and_nothing_else() {
        let values = Values::from([("user".into(), "luna".into()), ("password".into(), "a b;$(x)".into())]);
        assert_eq!(render("postgres://{{user}}:{{ password }}@db", &values).unwrap(), "postgres://luna:a b;$(x)@db");
        assert_eq!(render("plain", &values).unwrap(), "plain");
        assert!(render("{{nope}}", &values).unwrap_err().contains("nope"));
        assert!(render("{{user", &values).is_err());
        assert_eq!(names("{{a}}-{{ b }}"), vec!["a", "b"]);
    }
}
