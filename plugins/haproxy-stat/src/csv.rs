//! One line of CSV as HAProxy writes it.

/// Splits one CSV line, honouring double quotes (`""` is a literal quote).
pub(crate) fn split(line: &str) -> Vec<String> {
    let mut fields = Vec::new();
    let mut field = String::new();
    let mut quoted = false;
    let mut chars = line.chars().peekable();
    while let Some(c) = chars.next() {
        match c {
            '"' if quoted && chars.peek() == Some(&'"') => {
                field.push('"');
                chars.next();
            }
            '"' => quoted = !quoted,
            ',' if !quoted => fields.push(std::mem::take(&mut field)),
            _ => field.push(c),
        }
    }
    fields.push(field);
    fields
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn quotes_hold_commas_and_doubled_quotes() {
        assert_eq!(split(r#"a,"b,c","d""e",,"#), ["a", "b,c", "d\"e", "", ""]);
        assert_eq!(split(""), [""]);
    }
}
