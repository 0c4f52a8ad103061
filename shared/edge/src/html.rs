//! Pages a person opens (the hospital's answer page): content negotiation, escaping, and an
//! HTML response with the headers a capability URL needs. Pages are plain server-rendered
//! HTML that works with JavaScript off; their content is each context's own.

use http::{HeaderValue, StatusCode};
use lambda_http::{Body, Request, Response};

/// Whether the client would rather have HTML than JSON: a browser says `text/html` in its
/// `Accept`; `curl`, SDKs and `*/*` get JSON, as before.
pub fn wants_html(req: &Request) -> bool {
    let Some(accept) = req
        .headers()
        .get(http::header::ACCEPT)
        .and_then(|v| v.to_str().ok())
    else {
        return false;
    };
    let quality = |wanted: &str| {
        accept
            .split(',')
            .filter_map(|part| {
                let mut bits = part.split(';');
                let kind = bits.next()?.trim().to_ascii_lowercase();
                (kind == wanted).then(|| {
                    bits.find_map(|p| p.trim().strip_prefix("q=")?.parse::<f32>().ok())
                        .unwrap_or(1.0)
                })
            })
            .fold(0.0f32, f32::max)
    };
    let html = quality("text/html").max(quality("application/xhtml+xml"));
    html > 0.0 && html >= quality("application/json")
}

/// Text made safe for HTML element content and quoted attribute values.
pub fn escape_html(text: &str) -> String {
    let mut out = String::with_capacity(text.len());
    for c in text.chars() {
        match c {
            '&' => out.push_str("&amp;"),
            '<' => out.push_str("&lt;"),
            '>' => out.push_str("&gt;"),
            '"' => out.push_str("&quot;"),
            '\'' => out.push_str("&#39;"),
            c => out.push(c),
        }
    }
    out
}

/// An HTML page. The URL is a capability (a token in the path), so the page is never cached
/// or framed, sends no referrer onwards, loads nothing from anywhere, and its forms post only
/// back to itself.
pub fn html_response(status: StatusCode, page: String) -> Response<Body> {
    let mut response = Response::new(Body::Text(page));
    *response.status_mut() = status;
    let headers = response.headers_mut();
    for (name, value) in [
        ("content-type", "text/html; charset=utf-8"),
        ("cache-control", "no-store"),
        ("referrer-policy", "no-referrer"),
        ("x-content-type-options", "nosniff"),
        ("x-frame-options", "DENY"),
        (
            "content-security-policy",
            "default-src 'none'; style-src 'unsafe-inline'; img-src data:; form-action 'self'; frame-ancestors 'none'; base-uri 'none'",
        ),
    ] {
        headers.insert(name, HeaderValue::from_static(value));
    }
    response
}

#[cfg(test)]
mod tests {
    use super::*;

    fn with_accept(accept: Option<&str>) -> Request {
        let mut b = http::Request::builder().uri("/x");
        if let Some(a) = accept {
            b = b.header("accept", a);
        }
        b.body(Body::Empty).expect("request")
    }

    #[test]
    fn browsers_get_html_and_programs_get_json() {
        let chrome =
            "text/html,application/xhtml+xml,application/xml;q=0.9,image/avif,image/webp,*/*;q=0.8";
        assert!(wants_html(&with_accept(Some(chrome))));
        assert!(wants_html(&with_accept(Some("text/html"))));
        for program in [
            None,
            Some("*/*"),
            Some("application/json"),
            Some("application/json, text/html;q=0.5"),
            Some("text/html;q=0"),
        ] {
            assert!(!wants_html(&with_accept(program)), "{program:?}");
        }
    }

    #[test]
    fn markup_in_text_is_escaped() {
        assert_eq!(
            escape_html(r#"<b onclick="x">Tom & 'Jerry'</b>"#),
            "&lt;b onclick=&quot;x&quot;&gt;Tom &amp; &#39;Jerry&#39;&lt;/b&gt;"
        );
    }
}
