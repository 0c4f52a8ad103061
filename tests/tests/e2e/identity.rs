//! Identity end to end through the local gateway, on both backends. Tokens are checked with
//! PyJWT and TOTP codes computed with pyotp (independent implementations, from .venv).

use std::process::Command;
use std::time::Duration;

use base64::Engine;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use haven_edge::catalogue::{Access, CATALOGUE};
use haven_tests::gateway::{ADMIN_EMAIL, ADMIN_PASSWORD, RunningGateway};
use serde_json::{Value, json};

haven_tests::on_both_backends!(
    register_login_me_refresh_logout,
    bad_input_is_a_clear_problem,
    reused_refresh_token_kills_the_family,
    totp_from_an_independent_app_is_accepted_once,
    tokens_verify_with_pyjwt_across_a_key_rotation,
    forged_and_foreign_tokens_are_refused,
    repeated_failures_slow_down_and_look_the_same,
    every_route_answers_each_role_as_declared,
    emergency_credential_yields_a_narrow_token,
);

const PASSWORD: &str = "amber falcon river quartz 42";

fn client() -> reqwest::Client {
    haven_tests::http::client()
}

fn python(args: &[&str]) -> String {
    let root = concat!(env!("CARGO_MANIFEST_DIR"), "/..");
    let out = Command::new(format!("{root}/.venv/bin/python"))
        .arg(format!("{root}/tests/python/independent.py"))
        .args(args)
        .output()
        .expect("the project's .venv (run `make test`, or scripts/venv.sh)");
    assert!(
        out.status.success(),
        "independent.py {args:?}: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    String::from_utf8(out.stdout)
        .expect("utf-8")
        .trim()
        .to_owned()
}

async fn post(gw: &RunningGateway, path: &str, token: Option<&str>, body: Value) -> (u16, Value) {
    let mut r = client().post(gw.url(path)).json(&body);
    if let Some(t) = token {
        r = r.bearer_auth(t);
    }
    let response = r.send().await.expect("request");
    let status = response.status().as_u16();
    (status, response.json().await.unwrap_or(Value::Null))
}

/// `GET /auth/me` with `token`: status, problem document and `WWW-Authenticate`.
async fn refusal(gw: &RunningGateway, token: Option<&str>) -> (u16, Value, String) {
    let mut r = client().get(gw.url("/api/v1/auth/me"));
    if let Some(t) = token {
        r = r.bearer_auth(t);
    }
    let response = r.send().await.expect("request");
    let status = response.status().as_u16();
    let challenge = response
        .headers()
        .get("www-authenticate")
        .and_then(|v| v.to_str().ok())
        .unwrap_or_default()
        .to_owned();
    (
        status,
        response.json().await.unwrap_or(Value::Null),
        challenge,
    )
}

async fn get(gw: &RunningGateway, path: &str, token: Option<&str>) -> (u16, Value) {
    let mut r = client().get(gw.url(path));
    if let Some(t) = token {
        r = r.bearer_auth(t);
    }
    let response = r.send().await.expect("request");
    let status = response.status().as_u16();
    (status, response.json().await.unwrap_or(Value::Null))
}

fn unique_email(tag: &str) -> String {
    format!(
        "{tag}-{}@example.org",
        &uuid::Uuid::new_v4().simple().to_string()[..10]
    )
}

async fn register(gw: &RunningGateway, email: &str, phone: Option<&str>) -> Value {
    let mut body = json!({"email": email, "password": PASSWORD, "full_name": "Achieng Otieno"});
    if let Some(p) = phone {
        body["phone"] = json!(p);
    }
    let (status, created) = post(gw, "/api/v1/auth/register", None, body).await;
    assert_eq!(status, 201, "{created}");
    created
}

async fn login(gw: &RunningGateway, email: &str, password: &str) -> Value {
    let (status, body) = post(
        gw,
        "/api/v1/auth/login",
        None,
        json!({"email": email, "password": password}),
    )
    .await;
    assert_eq!(status, 200, "{body}");
    body
}

async fn register_login_me_refresh_logout(gw: RunningGateway) {
    let email = unique_email("patient");
    let created = register(&gw, &email, Some("+254711000001")).await;
    assert_eq!(created["role"], "patient");
    assert!(
        created["emergency_credential"]
            .as_str()
            .is_some_and(|c| c.len() >= 40)
    );
    let (status, _) = post(
        &gw,
        "/api/v1/auth/register",
        None,
        json!({"email": email.to_uppercase(), "password": PASSWORD, "full_name": "X"}),
    )
    .await;
    assert_eq!(status, 409, "one account per email, case-insensitively");

    let pair = login(&gw, &email, PASSWORD).await;
    assert_eq!(pair["token_type"], "Bearer");
    assert_eq!(pair["expires_in"], 900);
    let access = pair["access_token"].as_str().expect("access token");
    let (status, me) = get(&gw, "/api/v1/auth/me", Some(access)).await;
    assert_eq!(status, 200);
    assert_eq!(
        (
            me["email"].as_str(),
            me["role"].as_str(),
            me["mfa_enabled"].as_bool()
        ),
        (Some(email.as_str()), Some("patient"), Some(false))
    );
    assert_eq!(me["user_id"], created["user_id"]);
    assert!(me.get("password_hash").is_none());

    let (status, next) = post(
        &gw,
        "/api/v1/auth/refresh",
        None,
        json!({"refresh_token": pair["refresh_token"]}),
    )
    .await;
    assert_eq!(status, 200, "{next}");
    assert_ne!(
        next["refresh_token"], pair["refresh_token"],
        "refresh tokens rotate"
    );
    let access2 = next["access_token"].as_str().expect("access");
    assert_eq!(get(&gw, "/api/v1/auth/me", Some(access2)).await.0, 200);

    let r = client()
        .post(gw.url("/api/v1/auth/logout"))
        .json(&json!({"refresh_token": next["refresh_token"]}))
        .send()
        .await
        .expect("logout");
    assert_eq!(r.status(), 204);
    // Logout revokes the session's access tokens, and the refusal says so (RFC 6750).
    let (status, problem, challenge) = refusal(&gw, Some(access2)).await;
    assert_eq!(status, 401, "{problem}");
    assert_eq!(problem["type"], "/problems/invalid-token");
    assert!(
        challenge.contains("error=\"invalid_token\"") && challenge.contains("session"),
        "{challenge}"
    );
    let (status, problem, challenge) = refusal(&gw, None).await;
    assert_eq!(
        (status, problem["type"].as_str(), challenge.as_str()),
        (
            401,
            Some("/problems/unauthenticated"),
            "Bearer realm=\"haven\""
        ),
        "no token: a bare challenge"
    );
    assert_eq!(
        post(
            &gw,
            "/api/v1/auth/refresh",
            None,
            json!({"refresh_token": next["refresh_token"]})
        )
        .await
        .0,
        401
    );
}

async fn bad_input_is_a_clear_problem(gw: RunningGateway) {
    let send = |body: &'static str, content_type: &'static str| {
        client()
            .post(gw.url("/api/v1/auth/register"))
            .header("content-type", content_type)
            .body(body)
            .send()
    };
    let r = send(r#"{"email": "a@b.org", "password": "#, "application/json")
        .await
        .expect("request");
    assert_eq!(r.status(), 400);
    assert_eq!(r.headers()["content-type"], "application/problem+json");
    let body: Value = r.json().await.expect("problem");
    assert_eq!(body["type"], "/problems/invalid-json");
    let r = send("email=a@b.org", "application/x-www-form-urlencoded")
        .await
        .expect("request");
    assert_eq!(r.status(), 415);
    let r = send(
        r#"{"email": "a@b.org", "password": 5, "full_name": "A"}"#,
        "application/json",
    )
    .await
    .expect("request");
    assert_eq!(r.status(), 422);
    assert_eq!(
        r.json::<Value>().await.expect("problem")["field"],
        "password"
    );
    let (status, body) = post(
        &gw,
        "/api/v1/auth/register",
        None,
        json!({"email": "not-an-email", "password": PASSWORD, "full_name": "A"}),
    )
    .await;
    assert_eq!((status, body["field"].as_str()), (422, Some("email")));
    let (status, body) = post(
        &gw,
        "/api/v1/auth/register",
        None,
        json!({"email": unique_email("weak"), "password": "Password123!", "full_name": "A B"}),
    )
    .await;
    assert_eq!(
        (status, body["field"].as_str()),
        (422, Some("password")),
        "{body}"
    );
    assert!(body["detail"].as_str().is_some_and(|d| !d.is_empty()));
    let (status, body) = post(&gw, "/api/v1/auth/register", None, json!({"email": unique_email("x"), "password": PASSWORD, "full_name": "A", "role": "system_admin"})).await;
    assert_eq!(
        (status, body["field"].as_str()),
        (422, Some("role")),
        "nobody registers themselves as staff"
    );
    // An admin creating staff: the missing field is named, the words are a person's, and
    // staff only join a hospital that exists.
    let admin = login(&gw, ADMIN_EMAIL, ADMIN_PASSWORD).await;
    let admin = admin["access_token"].as_str().expect("token");
    let staff = |hospital: &str| {
        json!({"email": unique_email("nurse"), "password": PASSWORD, "full_name": "Wanjiku Kamau",
               "role": "nurse", "hospital_id": hospital})
    };
    for (body, field, words) in [
        (
            json!({"email": unique_email("x")}),
            Some("password"),
            "password is required",
        ),
        (json!([1, 2]), None, "the body must be a JSON object"),
        (
            staff("no-such-hospital"),
            Some("hospital_id"),
            "no hospital has this id",
        ),
    ] {
        let (status, problem) = post(&gw, "/api/v1/users", Some(admin), body.clone()).await;
        assert_eq!(status, 422, "{body} -> {problem}");
        assert_eq!(problem["field"].as_str(), field, "{body} -> {problem}");
        let detail = problem["detail"].as_str().expect("detail");
        assert!(detail.contains(words), "{body} -> {detail}");
        assert!(
            !detail.contains("struct") && !detail.contains("NewAccount"),
            "{detail}"
        );
    }
    let (status, created) = post(&gw, "/api/v1/users", Some(admin), staff("demo-knh")).await;
    assert_eq!(status, 201, "{created}");
    let huge = "x".repeat(20_000);
    let (status, body) = post(
        &gw,
        "/api/v1/auth/login",
        None,
        json!({"email": huge, "password": "p"}),
    )
    .await;
    assert_eq!(
        (status, body["type"].as_str()),
        (413, Some("/problems/payload-too-large"))
    );
}

async fn reused_refresh_token_kills_the_family(gw: RunningGateway) {
    let email = unique_email("reuse");
    register(&gw, &email, None).await;
    let first = login(&gw, &email, PASSWORD).await;
    let (_, second) = post(
        &gw,
        "/api/v1/auth/refresh",
        None,
        json!({"refresh_token": first["refresh_token"]}),
    )
    .await;
    // An attacker replays the first (spent) token.
    let (status, _) = post(
        &gw,
        "/api/v1/auth/refresh",
        None,
        json!({"refresh_token": first["refresh_token"]}),
    )
    .await;
    assert_eq!(status, 401);
    // The whole family is dead: the legitimate newer token and its access token too.
    assert_eq!(
        post(
            &gw,
            "/api/v1/auth/refresh",
            None,
            json!({"refresh_token": second["refresh_token"]})
        )
        .await
        .0,
        401
    );
    assert_eq!(
        get(&gw, "/api/v1/auth/me", second["access_token"].as_str())
            .await
            .0,
        401
    );
    // Another session of the same person is untouched.
    let other = login(&gw, &email, PASSWORD).await;
    assert_eq!(
        get(&gw, "/api/v1/auth/me", other["access_token"].as_str())
            .await
            .0,
        200
    );
}

async fn totp_from_an_independent_app_is_accepted_once(gw: RunningGateway) {
    let email = unique_email("mfa");
    register(&gw, &email, None).await;
    let pair = login(&gw, &email, PASSWORD).await;
    let access = pair["access_token"].as_str().expect("access");
    let (status, enrolment) = post(
        &gw,
        "/api/v1/auth/mfa/enable",
        Some(access),
        json!({"method": "totp"}),
    )
    .await;
    assert_eq!(status, 200, "{enrolment}");
    let secret = enrolment["secret"].as_str().expect("secret");
    let uri = enrolment["otpauth_uri"].as_str().expect("uri");
    assert!(
        uri.starts_with("otpauth://totp/") && uri.contains(&format!("secret={secret}")),
        "{uri}"
    );
    assert_eq!(
        post(
            &gw,
            "/api/v1/auth/mfa/verify",
            Some(access),
            json!({"code": "000000"})
        )
        .await
        .0,
        422
    );
    let now_code = python(&["totp", secret, "0"]);
    let (status, body) = post(
        &gw,
        "/api/v1/auth/mfa/verify",
        Some(access),
        json!({"code": now_code}),
    )
    .await;
    assert_eq!(status, 200, "{body}");

    let challenge = login(&gw, &email, PASSWORD).await;
    assert_eq!(challenge["mfa_required"], true);
    assert!(
        challenge.get("access_token").is_none(),
        "no tokens before the second factor"
    );
    let mfa_token = challenge["mfa_token"].as_str().expect("mfa token");
    // The current step's code was spent by the enrolment; the next step's code is fresh.
    let next_code = python(&["totp", secret, "30"]);
    let (status, tokens) = post(
        &gw,
        "/api/v1/auth/verify",
        None,
        json!({"mfa_token": mfa_token, "code": next_code}),
    )
    .await;
    assert_eq!(status, 200, "{tokens}");
    assert_eq!(
        get(&gw, "/api/v1/auth/me", tokens["access_token"].as_str())
            .await
            .1["mfa_enabled"],
        true
    );
    // The same code again, with a fresh challenge: a replay, refused.
    let again = login(&gw, &email, PASSWORD).await;
    let (status, _) = post(
        &gw,
        "/api/v1/auth/verify",
        None,
        json!({"mfa_token": again["mfa_token"], "code": next_code}),
    )
    .await;
    assert_eq!(status, 401);
    // An MFA token is not an access token.
    assert_eq!(
        get(&gw, "/api/v1/auth/me", again["mfa_token"].as_str())
            .await
            .0,
        401
    );
}

async fn tokens_verify_with_pyjwt_across_a_key_rotation(gw: RunningGateway) {
    let email = unique_email("jwks");
    register(&gw, &email, None).await;
    let old = login(&gw, &email, PASSWORD).await["access_token"]
        .as_str()
        .expect("token")
        .to_owned();
    let jwks = gw.url("/.well-known/jwks.json");
    let claims: Value =
        serde_json::from_str(&python(&["verify-jwt", &jwks, &old])).expect("claims");
    assert_eq!(
        (
            claims["iss"].as_str(),
            claims["aud"].as_str(),
            claims["role"].as_str()
        ),
        (Some("haven"), Some("haven-api"), Some("patient"))
    );
    let new_kid = (gw.rotate_signing_key)().await;
    let new = login(&gw, &email, PASSWORD).await["access_token"]
        .as_str()
        .expect("token")
        .to_owned();
    let header: Value = serde_json::from_slice(
        &URL_SAFE_NO_PAD
            .decode(new.split('.').next().expect("header"))
            .expect("b64"),
    )
    .expect("json");
    assert_eq!(header["kid"], new_kid);
    assert_eq!(header["alg"], "EdDSA");
    let (_, keys) = get(&gw, "/.well-known/jwks.json", None).await;
    assert_eq!(
        keys["keys"].as_array().map(Vec::len),
        Some(2),
        "the old key stays until its tokens expire"
    );
    python(&["verify-jwt", &jwks, &old]);
    python(&["verify-jwt", &jwks, &new]);
    assert_eq!(get(&gw, "/api/v1/auth/me", Some(&old)).await.0, 200);
    assert_eq!(get(&gw, "/api/v1/auth/me", Some(&new)).await.0, 200);
}

fn b64(v: &Value) -> String {
    URL_SAFE_NO_PAD.encode(serde_json::to_vec(v).expect("json"))
}

async fn forged_and_foreign_tokens_are_refused(gw: RunningGateway) {
    let email = unique_email("forge");
    register(&gw, &email, None).await;
    let token = login(&gw, &email, PASSWORD).await["access_token"]
        .as_str()
        .expect("token")
        .to_owned();
    let parts: Vec<&str> = token.split('.').collect();
    let header: Value =
        serde_json::from_slice(&URL_SAFE_NO_PAD.decode(parts[0]).expect("b64")).expect("json");
    let mut payload: Value =
        serde_json::from_slice(&URL_SAFE_NO_PAD.decode(parts[1]).expect("b64")).expect("json");

    let none = format!(
        "{}.{}.",
        b64(&json!({"alg": "none", "typ": "at+jwt", "kid": header["kid"]})),
        parts[1]
    );
    payload["role"] = json!("system_admin");
    let escalated = format!("{}.{}.{}", parts[0], b64(&payload), parts[2]);
    let unknown_kid = format!(
        "{}.{}.{}",
        b64(&json!({"alg": "EdDSA", "typ": "at+jwt", "kid": "nope"})),
        parts[1],
        parts[2]
    );
    // HS256 keyed with the public key from the JWKS: the classic algorithm confusion.
    let (_, jwks) = get(&gw, "/.well-known/jwks.json", None).await;
    let x = jwks["keys"][0]["x"].as_str().expect("x").to_owned();
    let public = URL_SAFE_NO_PAD.decode(&x).expect("x");
    let hs_header = b64(&json!({"alg": "HS256", "typ": "at+jwt", "kid": header["kid"]}));
    let signing_input = format!("{hs_header}.{}", parts[1]);
    let mac = {
        use hmac::{Hmac, Mac};
        let mut m = Hmac::<sha2::Sha256>::new_from_slice(&public).expect("key");
        m.update(signing_input.as_bytes());
        URL_SAFE_NO_PAD.encode(m.finalize().into_bytes())
    };
    let confused = format!("{signing_input}.{mac}");

    let (status, problem) = get(&gw, "/api/v1/auth/me", None).await;
    assert_eq!(
        (status, problem["type"].as_str()),
        (401, Some("/problems/unauthenticated")),
        "no token"
    );
    for (name, forged) in [
        ("alg none", none),
        ("changed payload", escalated),
        ("unknown kid", unknown_kid),
        ("HS256 with the public key", confused),
        ("garbage", "a.b.c".to_owned()),
    ] {
        let (status, problem, challenge) = refusal(&gw, Some(&forged)).await;
        assert_eq!(status, 401, "{name}");
        assert_eq!(problem["type"], "/problems/invalid-token", "{name}");
        assert!(
            challenge.starts_with("Bearer realm=\"haven\", error=\"invalid_token\"")
                && challenge.contains("not valid"),
            "{name}: {challenge}"
        );
        assert_eq!(
            get(&gw, "/api/v1/users", Some(&forged)).await.0,
            401,
            "{name} on an admin route"
        );
    }
}

async fn repeated_failures_slow_down_and_look_the_same(gw: RunningGateway) {
    let email = unique_email("lock");
    register(&gw, &email, None).await;
    let (known_status, known) = post(
        &gw,
        "/api/v1/auth/login",
        None,
        json!({"email": email, "password": "wrong wrong wrong"}),
    )
    .await;
    let (unknown_status, unknown) = post(
        &gw,
        "/api/v1/auth/login",
        None,
        json!({"email": unique_email("nobody"), "password": "wrong wrong wrong"}),
    )
    .await;
    assert_eq!((known_status, unknown_status), (401, 401));
    let strip = |mut v: Value| {
        v.as_object_mut().map(|o| o.remove("request_id"));
        v
    };
    assert_eq!(strip(known), strip(unknown), "no user enumeration");
    for _ in 0..4 {
        assert_eq!(
            post(
                &gw,
                "/api/v1/auth/login",
                None,
                json!({"email": email, "password": "wrong wrong wrong"})
            )
            .await
            .0,
            401
        );
    }
    let r = client()
        .post(gw.url("/api/v1/auth/login"))
        .json(&json!({"email": email, "password": PASSWORD}))
        .send()
        .await
        .expect("request");
    assert_eq!(
        r.status(),
        429,
        "locked after five failures, even with the right password"
    );
    assert!(r.headers().contains_key("retry-after"));
    tokio::time::sleep(Duration::from_millis(1100)).await;
    login(&gw, &email, PASSWORD).await;
}

async fn emergency_credential_yields_a_narrow_token(gw: RunningGateway) {
    let email = unique_email("bypass");
    let created = register(&gw, &email, Some("+254711000002")).await;
    let (status, body) = post(
        &gw,
        "/api/v1/auth/emergency-bypass",
        None,
        json!({"emergency_credential": created["emergency_credential"]}),
    )
    .await;
    assert_eq!(status, 200, "{body}");
    assert_eq!(body["scope"], "emergency");
    let token = body["access_token"].as_str().expect("token");
    assert_eq!(
        get(&gw, "/api/v1/auth/me", Some(token)).await.0,
        401,
        "a bypass token is not an access token"
    );
    assert_eq!(
        post(
            &gw,
            "/api/v1/auth/emergency-bypass",
            None,
            json!({"emergency_credential": "made-up"})
        )
        .await
        .0,
        401
    );
    let (status, body) = post(
        &gw,
        "/api/v1/auth/emergency-bypass",
        None,
        json!({"phone_number": "+254799999999"}),
    )
    .await;
    assert_eq!(
        (status, body["code_sent"].as_bool()),
        (202, Some(true)),
        "unknown phones look like known ones"
    );
    assert_eq!(
        post(&gw, "/api/v1/auth/emergency-bypass", None, json!({}))
            .await
            .0,
        422
    );
}

/// Every route of the catalogue, called by nobody, by each role, and by a hospital admin of
/// another hospital: 401 and 403 exactly where the declaration says.
async fn every_route_answers_each_role_as_declared(gw: RunningGateway) {
    let admin = login(&gw, ADMIN_EMAIL, ADMIN_PASSWORD).await["access_token"]
        .as_str()
        .expect("admin")
        .to_owned();
    let mut tokens: Vec<(String, String)> = Vec::new();
    for role in haven_kernel::Role::ALL {
        let email = unique_email(role.as_str());
        let token = if role == haven_kernel::Role::Patient {
            register(&gw, &email, None).await;
            login(&gw, &email, PASSWORD).await["access_token"]
                .as_str()
                .expect("token")
                .to_owned()
        } else if role == haven_kernel::Role::SystemAdmin {
            admin.clone()
        } else {
            let mut body = json!({"email": email, "password": PASSWORD, "full_name": "Staff Member", "role": role.as_str()});
            if role.is_hospital_staff() {
                body["hospital_id"] = json!("demo-knh");
            }
            let (status, created) = post(&gw, "/api/v1/users", Some(&admin), body).await;
            assert_eq!(status, 201, "{created}");
            login(&gw, &email, PASSWORD).await["access_token"]
                .as_str()
                .expect("token")
                .to_owned()
        };
        tokens.push((role.as_str().to_owned(), token));
    }
    for (n, route) in CATALOGUE.iter().enumerate() {
        let path = route
            .path
            .replace("{id}", "00000000000000000000000000000000")
            .replace("{alert_id}", "00000000000000000000000000000000");
        let call = |token: Option<String>| {
            let mut r = client()
                .request(route.method.parse().expect("method"), gw.url(&path))
                .header("content-type", "application/json");
            if route.method != "GET" && route.method != "DELETE" {
                r = r.body("{}");
            }
            if let Some(t) = token {
                r = r.bearer_auth(t);
            }
            r.send()
        };
        let anonymous = call(None).await.expect("request").status().as_u16();
        match route.access {
            Access::Public => assert!(
                anonymous != 401 && anonymous != 403,
                "{} {} anonymous: {anonymous}",
                route.method,
                route.path
            ),
            Access::Roles(_) | Access::RolesOrBypass(_) => {
                assert_eq!(anonymous, 401, "{} {} anonymous", route.method, route.path)
            }
        }
        // On the embedded backend every role calls every route. Over moto (about 100 ms a
        // call) each route is called by one admitted and one refused role: the
        // decision is the edge's and the same on both backends, and what differs (the
        // handler's reads on AWS) is reached by the admitted call.
        let admits = |role: &str| match route.access {
            Access::Public => true,
            Access::Roles(roles) | Access::RolesOrBypass(roles) => {
                roles.iter().any(|r| r.as_str() == role)
            }
        };
        let sample: Vec<&(String, String)> = if gw.data_dir.is_some() {
            tokens.iter().collect()
        } else {
            // Starting at a different role for each route, so the roles take turns.
            let first = |admitted: bool| {
                tokens
                    .iter()
                    .cycle()
                    .skip(n % tokens.len())
                    .take(tokens.len())
                    .find(|(r, _)| admits(r) == admitted)
            };
            first(true).into_iter().chain(first(false)).collect()
        };
        for (role, token) in sample {
            let status = call(Some(token.clone()))
                .await
                .expect("request")
                .status()
                .as_u16();
            if admits(role) {
                assert!(
                    status != 401 && status != 403,
                    "{} {} as {role}: {status}",
                    route.method,
                    route.path
                );
            } else {
                assert_eq!(status, 403, "{} {} as {role}", route.method, route.path);
            }
        }
    }
    // Object scope: a hospital admin of another hospital cannot see a KNH nurse.
    let nurse_email = unique_email("nurse-a");
    let (_, nurse) = post(&gw, "/api/v1/users", Some(&admin), json!({"email": nurse_email, "password": PASSWORD, "full_name": "Nurse A", "role": "nurse", "hospital_id": "demo-knh"})).await;
    let other_admin_email = unique_email("admin-b");
    post(&gw, "/api/v1/users", Some(&admin), json!({"email": other_admin_email, "password": PASSWORD, "full_name": "Admin B", "role": "hospital_admin", "hospital_id": "demo-cgtrh"})).await;
    let other_admin = login(&gw, &other_admin_email, PASSWORD).await["access_token"]
        .as_str()
        .expect("token")
        .to_owned();
    let nurse_path = format!("/api/v1/users/{}", nurse["user_id"].as_str().expect("id"));
    assert_eq!(
        get(&gw, &nurse_path, Some(&other_admin)).await.0,
        404,
        "another hospital's staff are invisible"
    );
    let (status, listed) = get(&gw, "/api/v1/users", Some(&other_admin)).await;
    assert_eq!(status, 200);
    assert!(
        listed["users"]
            .as_array()
            .expect("users")
            .iter()
            .all(|u| u["hospital_id"] == "demo-cgtrh"),
        "{listed}"
    );
    let (status, _) = post(&gw, "/api/v1/users", Some(&other_admin), json!({"email": unique_email("x"), "password": PASSWORD, "full_name": "X", "role": "nurse", "hospital_id": "demo-knh"})).await;
    assert_eq!(status, 403, "no staff for another hospital");
    assert_eq!(get(&gw, &nurse_path, Some(&admin)).await.0, 200);
}
