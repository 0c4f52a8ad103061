//! `ApiGatewayConnections` against a scripted HTTP server on a loopback port (no moto needed):
//! where the request goes, and how API Gateway's answers map to the port's errors.

use std::io::{BufRead, BufReader, Read, Write};
use std::net::TcpListener;
use std::sync::Arc;
use std::sync::mpsc;

use haven_aws::{AwsBackend, AwsSettings};
use haven_kernel::SystemClock;
use haven_kernel::ports::{ConnectionError, Connections};

/// Answers one request per scripted response (closing each connection), and reports each
/// request's line and body.
fn scripted_server(responses: Vec<&'static str>) -> (String, mpsc::Receiver<(String, Vec<u8>)>) {
    let listener = TcpListener::bind("127.0.0.1:0").expect("bind");
    let url = format!("http://{}", listener.local_addr().expect("address"));
    let (tx, rx) = mpsc::channel();
    std::thread::spawn(move || {
        for response in responses {
            let Ok((stream, _)) = listener.accept() else {
                return;
            };
            let mut reader = BufReader::new(stream);
            let mut request_line = String::new();
            let _ = reader.read_line(&mut request_line);
            let mut length = 0usize;
            loop {
                let mut header = String::new();
                if reader.read_line(&mut header).unwrap_or(0) == 0 || header == "\r\n" {
                    break;
                }
                if let Some((name, value)) = header.split_once(':')
                    && name.eq_ignore_ascii_case("content-length")
                {
                    length = value.trim().parse().unwrap_or(0);
                }
            }
            let mut body = vec![0u8; length];
            let _ = reader.read_exact(&mut body);
            let _ = tx.send((request_line.trim().to_owned(), body));
            let mut stream = reader.into_inner();
            let _ = stream.write_all(response.as_bytes());
        }
    });
    (url, rx)
}

const OK: &str = "HTTP/1.1 200 OK\r\ncontent-length: 0\r\nconnection: close\r\n\r\n";
const GONE: &str = "HTTP/1.1 410 Gone\r\nx-amzn-errortype: GoneException\r\ncontent-type: application/json\r\ncontent-length: 2\r\nconnection: close\r\n\r\n{}";
const FORBIDDEN: &str = "HTTP/1.1 403 Forbidden\r\nx-amzn-errortype: ForbiddenException\r\ncontent-type: application/json\r\ncontent-length: 2\r\nconnection: close\r\n\r\n{}";

#[tokio::test]
async fn posts_go_under_the_stage_and_answers_map_to_port_errors() {
    let (base, requests) = scripted_server(vec![OK, GONE, FORBIDDEN]);
    let sdk = aws_config::defaults(aws_config::BehaviorVersion::latest())
        .region(aws_config::Region::new("us-east-1"))
        .credentials_provider(aws_sdk_dynamodb::config::Credentials::new(
            "test", "test", None, None, "test",
        ))
        .load()
        .await;
    let settings = AwsSettings {
        table_name: "haven".into(),
        kms_key_id: "alias/haven".into(),
        kms_also_opens: Vec::new(),
        resource_prefix: "haven-".into(),
        // As on AWS: https://{domain}/{stage}.
        websocket_endpoint: Some(format!("{base}/prod")),
        documents_bucket: "haven-documents".into(),
    };
    let backend = AwsBackend::new(&sdk, settings, Arc::new(SystemClock));
    let c = &backend.connections;

    assert_eq!(c.post("abc=", b"{\"type\":\"status\"}").await, Ok(()));
    let (line, body) = requests.recv().expect("first request");
    assert_eq!(line, "POST /prod/@connections/abc%3D HTTP/1.1");
    assert_eq!(body, b"{\"type\":\"status\"}");

    assert_eq!(c.post("gone", b"x").await, Err(ConnectionError::Gone));
    assert!(requests.recv().is_ok());

    match c.post("forbidden", b"x").await {
        Err(ConnectionError::Failed(message)) => {
            assert!(message.contains("ForbiddenException"), "{message}")
        }
        other => panic!("expected Failed, got {other:?}"),
    }
}
