//! The BlobStore port on S3. The bucket encrypts every object under its own KMS key
//! (SSE-KMS, `template.yaml`), so nothing here sends encryption headers.
//!
//! S3 is reached with SigV4 (`aws-sigv4`, which the SDK itself signs with) over the HTTP
//! client Haven already has, not through `aws-sdk-s3`: five calls (presign PUT and GET,
//! ranged GET, PUT, DELETE) do not justify the largest crate of the SDK in every build.
//! Path-style URLs when an endpoint is configured (moto's server), virtual-hosted ones on AWS.

use std::collections::BTreeMap;
use std::time::{Duration, SystemTime};

use aws_credential_types::provider::{ProvideCredentials, SharedCredentialsProvider};
use aws_sigv4::http_request::{
    PayloadChecksumKind, PercentEncodingMode, SignableBody, SignableRequest, SignatureLocation,
    SigningSettings, UriPathNormalizationMode, sign,
};
use aws_sigv4::sign::v4;
use aws_smithy_runtime_api::client::identity::Identity;
use haven_kernel::Timestamp;
use haven_kernel::ports::{
    BlobError, BlobStore, HEAD_BYTES, SignedRequest, StoredBlob, UploadTerms, is_valid_key,
};

/// Blobs in one S3 bucket.
#[derive(Clone)]
pub struct S3Blobs {
    http: reqwest::Client,
    credentials: Option<SharedCredentialsProvider>,
    region: String,
    bucket: String,
    /// `https://s3.{region}.amazonaws.com`-style base for path-style addressing, when set.
    endpoint: Option<String>,
}

impl std::fmt::Debug for S3Blobs {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("S3Blobs")
            .field("bucket", &self.bucket)
            .finish()
    }
}

fn failed(what: &str, e: impl std::fmt::Display) -> BlobError {
    BlobError::Failed(format!("{what}: {e}"))
}

fn system_time(t: Timestamp) -> SystemTime {
    SystemTime::UNIX_EPOCH + Duration::from_millis(t.millis().max(0) as u64)
}

impl S3Blobs {
    pub fn new(sdk: &aws_config::SdkConfig, bucket: String) -> Self {
        let endpoint = std::env::var("AWS_ENDPOINT_URL_S3")
            .ok()
            .filter(|v| !v.is_empty())
            .or_else(|| sdk.endpoint_url().map(str::to_owned))
            .map(|e| e.trim_end_matches('/').to_owned());
        // The process's TLS provider (AWS-LC, as the SDK uses), unless one is installed.
        let _ = rustls::crypto::aws_lc_rs::default_provider().install_default();
        S3Blobs {
            http: reqwest::Client::new(),
            credentials: sdk.credentials_provider(),
            region: sdk
                .region()
                .map(|r| r.to_string())
                .unwrap_or_else(|| "us-east-1".to_owned()),
            bucket,
            endpoint,
        }
    }

    pub fn bucket(&self) -> &str {
        &self.bucket
    }

    /// Keys are paths of ids, so they need no encoding in a URL; anything else is refused.
    fn url(&self, key: &str) -> Result<String, BlobError> {
        if !is_valid_key(key) {
            return Err(BlobError::Failed(format!("not a blob key: {key:?}")));
        }
        Ok(match &self.endpoint {
            Some(e) => format!("{e}/{}/{key}", self.bucket),
            None => format!(
                "https://{}.s3.{}.amazonaws.com/{key}",
                self.bucket, self.region
            ),
        })
    }

    /// The bucket itself (for creating it off AWS).
    pub(crate) fn bucket_url(&self) -> String {
        match &self.endpoint {
            Some(e) => format!("{e}/{}", self.bucket),
            None => format!("https://{}.s3.{}.amazonaws.com", self.bucket, self.region),
        }
    }

    async fn identity(&self) -> Result<Identity, BlobError> {
        let provider = self
            .credentials
            .as_ref()
            .ok_or_else(|| BlobError::Failed("no AWS credentials".into()))?;
        let credentials = provider
            .provide_credentials()
            .await
            .map_err(|e| failed("credentials", e))?;
        Ok(credentials.into())
    }

    fn settings(presigned_for: Option<Duration>) -> SigningSettings {
        let mut settings = SigningSettings::default();
        settings.percent_encoding_mode = PercentEncodingMode::Single;
        settings.uri_path_normalization_mode = UriPathNormalizationMode::Disabled;
        match presigned_for {
            Some(d) => {
                settings.signature_location = SignatureLocation::QueryParams;
                settings.expires_in = Some(d);
            }
            None => settings.payload_checksum_kind = PayloadChecksumKind::XAmzSha256,
        }
        settings
    }

    /// A presigned URL for `method` on `url`, covering `headers`.
    async fn presign(
        &self,
        method: &'static str,
        url: String,
        headers: &BTreeMap<String, String>,
        now: Timestamp,
        valid_for: Duration,
    ) -> Result<String, BlobError> {
        let identity = self.identity().await?;
        let params = v4::SigningParams::builder()
            .identity(&identity)
            .region(&self.region)
            .name("s3")
            .time(system_time(now))
            .settings(Self::settings(Some(valid_for)))
            .build()
            .map_err(|e| failed("signing", e))?
            .into();
        let mut host_headers: Vec<(String, String)> = headers
            .iter()
            .map(|(k, v)| (k.clone(), v.clone()))
            .collect();
        host_headers.push(("host".into(), host_of(&url)));
        let request = SignableRequest::new(
            method,
            url.as_str(),
            host_headers.iter().map(|(k, v)| (k.as_str(), v.as_str())),
            SignableBody::UnsignedPayload,
        )
        .map_err(|e| failed("signing", e))?;
        let (instructions, _) = sign(request, &params)
            .map_err(|e| failed("signing", e))?
            .into_parts();
        let mut out = url::Url::parse(&url).map_err(|e| failed("url", e))?;
        {
            let mut query = out.query_pairs_mut();
            for (name, value) in instructions.params() {
                query.append_pair(name, value);
            }
        }
        Ok(out.to_string())
    }

    /// A request signed in its headers, sent now.
    async fn send(
        &self,
        method: reqwest::Method,
        url: String,
        headers: &[(&str, &str)],
        body: Vec<u8>,
    ) -> Result<reqwest::Response, BlobError> {
        let identity = self.identity().await?;
        let params = v4::SigningParams::builder()
            .identity(&identity)
            .region(&self.region)
            .name("s3")
            .time(SystemTime::now())
            .settings(Self::settings(None))
            .build()
            .map_err(|e| failed("signing", e))?
            .into();
        let host = host_of(&url);
        let mut all: Vec<(&str, &str)> = headers.to_vec();
        all.push(("host", &host));
        let signable = SignableRequest::new(
            method.as_str(),
            url.as_str(),
            all.iter().copied(),
            SignableBody::Bytes(&body),
        )
        .map_err(|e| failed("signing", e))?;
        let (instructions, _) = sign(signable, &params)
            .map_err(|e| failed("signing", e))?
            .into_parts();
        let mut request = self.http.request(method, &url);
        for (name, value) in headers {
            request = request.header(*name, *value);
        }
        for (name, value) in instructions.headers() {
            request = request.header(name, value);
        }
        request.body(body).send().await.map_err(|e| failed("S3", e))
    }

    /// Creates the bucket (off AWS: the template creates it on AWS). Already owning it is
    /// fine.
    pub async fn create_bucket(&self) -> Result<(), String> {
        let body = if self.region == "us-east-1" {
            Vec::new()
        } else {
            format!(
                "<CreateBucketConfiguration><LocationConstraint>{}</LocationConstraint></CreateBucketConfiguration>",
                self.region
            )
            .into_bytes()
        };
        let response = self
            .send(reqwest::Method::PUT, self.bucket_url(), &[], body)
            .await
            .map_err(|e| e.to_string())?;
        let status = response.status();
        let text = response.text().await.unwrap_or_default();
        if status.is_success() || text.contains("BucketAlreadyOwnedByYou") {
            Ok(())
        } else {
            Err(format!("create bucket {}: {status} {text}", self.bucket))
        }
    }

    /// Every object key in the bucket (tests look at what is stored).
    pub async fn keys(&self) -> Result<Vec<String>, BlobError> {
        let response = self
            .send(
                reqwest::Method::GET,
                format!("{}?list-type=2", self.bucket_url()),
                &[],
                Vec::new(),
            )
            .await?;
        let text = response.text().await.map_err(|e| failed("S3", e))?;
        Ok(text
            .split("<Key>")
            .skip(1)
            .filter_map(|s| s.split_once("</Key>").map(|(k, _)| k.to_owned()))
            .collect())
    }
}

fn host_of(url: &str) -> String {
    url::Url::parse(url)
        .ok()
        .and_then(|u| {
            u.host_str().map(|h| match u.port() {
                Some(p) => format!("{h}:{p}"),
                None => h.to_owned(),
            })
        })
        .unwrap_or_default()
}

async fn expect_success(what: &str, response: reqwest::Response) -> Result<(), BlobError> {
    let status = response.status();
    if status.is_success() {
        return Ok(());
    }
    let text = response.text().await.unwrap_or_default();
    if status == reqwest::StatusCode::PRECONDITION_FAILED {
        return Err(BlobError::Exists);
    }
    Err(BlobError::Failed(format!(
        "{what}: {status} {}",
        text.chars().take(300).collect::<String>()
    )))
}

impl BlobStore for S3Blobs {
    async fn upload_url(
        &self,
        key: &str,
        terms: &UploadTerms<'_>,
    ) -> Result<SignedRequest, BlobError> {
        // Signed headers the client must send as they are: the type, the exact length, and
        // `If-None-Match: *`, so S3 refuses a second upload over checked bytes.
        let headers = BTreeMap::from([
            ("content-type".to_owned(), terms.content_type.to_owned()),
            ("content-length".to_owned(), terms.size.to_string()),
            ("if-none-match".to_owned(), "*".to_owned()),
        ]);
        let url = self
            .presign("PUT", self.url(key)?, &headers, terms.now, terms.valid_for)
            .await?;
        Ok(SignedRequest {
            method: "PUT",
            url,
            headers,
            expires_at: terms.now.plus(terms.valid_for),
        })
    }

    async fn download_url(
        &self,
        key: &str,
        content_type: &str,
        download_name: &str,
        now: Timestamp,
        valid_for: Duration,
    ) -> Result<SignedRequest, BlobError> {
        let mut url = url::Url::parse(&self.url(key)?).map_err(|e| failed("url", e))?;
        url.query_pairs_mut()
            .append_pair("response-content-type", content_type)
            .append_pair(
                "response-content-disposition",
                &format!("attachment;filename=\"{download_name}\""),
            );
        let url = self
            .presign("GET", url.to_string(), &BTreeMap::new(), now, valid_for)
            .await?;
        Ok(SignedRequest {
            method: "GET",
            url,
            headers: BTreeMap::new(),
            expires_at: now.plus(valid_for),
        })
    }

    async fn inspect(&self, key: &str) -> Result<Option<StoredBlob>, BlobError> {
        let range = format!("bytes=0-{}", HEAD_BYTES - 1);
        let response = self
            .send(
                reqwest::Method::GET,
                self.url(key)?,
                &[("range", &range)],
                Vec::new(),
            )
            .await?;
        let status = response.status();
        if status == reqwest::StatusCode::NOT_FOUND {
            return Ok(None);
        }
        if status == reqwest::StatusCode::RANGE_NOT_SATISFIABLE {
            // An empty object has no first byte.
            return Ok(Some(StoredBlob {
                size: 0,
                head: Vec::new(),
            }));
        }
        if !status.is_success() {
            let text = response.text().await.unwrap_or_default();
            return Err(BlobError::Failed(format!("inspect {key}: {status} {text}")));
        }
        // `Content-Range: bytes 0-63/12345` names the whole size; without a range answer
        // the body is the whole object.
        let total = response
            .headers()
            .get(reqwest::header::CONTENT_RANGE)
            .and_then(|v| v.to_str().ok())
            .and_then(|v| v.rsplit_once('/'))
            .and_then(|(_, n)| n.parse::<u64>().ok());
        let body = response.bytes().await.map_err(|e| failed("S3", e))?;
        Ok(Some(StoredBlob {
            size: total.unwrap_or(body.len() as u64),
            head: body[..body.len().min(HEAD_BYTES)].to_vec(),
        }))
    }

    async fn put(&self, key: &str, content_type: &str, bytes: &[u8]) -> Result<(), BlobError> {
        let response = self
            .send(
                reqwest::Method::PUT,
                self.url(key)?,
                &[("content-type", content_type), ("if-none-match", "*")],
                bytes.to_vec(),
            )
            .await?;
        expect_success("put", response).await
    }

    async fn get(&self, key: &str) -> Result<Option<Vec<u8>>, BlobError> {
        let response = self
            .send(reqwest::Method::GET, self.url(key)?, &[], Vec::new())
            .await?;
        if response.status() == reqwest::StatusCode::NOT_FOUND {
            return Ok(None);
        }
        if !response.status().is_success() {
            return Err(BlobError::Failed(format!(
                "get {key}: {}",
                response.status()
            )));
        }
        let body = response.bytes().await.map_err(|e| failed("S3", e))?;
        Ok(Some(body.to_vec()))
    }

    async fn delete(&self, key: &str) -> Result<(), BlobError> {
        let response = self
            .send(reqwest::Method::DELETE, self.url(key)?, &[], Vec::new())
            .await?;
        if response.status() == reqwest::StatusCode::NOT_FOUND {
            return Ok(());
        }
        expect_success("delete", response).await
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn hosts_keep_their_port() {
        assert_eq!(host_of("http://127.0.0.1:5000/b/k"), "127.0.0.1:5000");
        assert_eq!(
            host_of("https://b.s3.eu-west-1.amazonaws.com/k"),
            "b.s3.eu-west-1.amazonaws.com"
        );
    }
}
