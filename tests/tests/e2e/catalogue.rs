//! The route catalogue is the one list of Haven's functions. These tests hold template.yaml,
//! docs/openapi.yaml, events/, the binaries and the local gateway to it, both ways round.

use std::collections::{BTreeMap, BTreeSet};
use std::path::{Path, PathBuf};

use haven_edge::catalogue::{
    CATALOGUE, FALLBACK_FUNCTION, QUEUE_WORKERS, SOCKET_ROUTES, all_functions,
};
use haven_kernel::catalogue::{QUEUES, TOPICS};
use serde_yaml_ng::Value;

fn root() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("..")
}

fn yaml(path: &str) -> Value {
    let text = std::fs::read_to_string(root().join(path)).unwrap_or_else(|e| panic!("{path}: {e}"));
    serde_yaml_ng::from_str(&text).unwrap_or_else(|e| panic!("{path}: {e}"))
}

/// Strips a CloudFormation tag (`!Sub "..."`) down to its value.
fn untag(v: &Value) -> &Value {
    match v {
        Value::Tagged(t) => &t.value,
        other => other,
    }
}

fn str_of(v: &Value) -> Option<&str> {
    untag(v).as_str()
}

struct Template {
    resources: BTreeMap<String, Value>,
}

impl Template {
    fn load() -> Self {
        let doc = yaml("template.yaml");
        let resources = doc["Resources"]
            .as_mapping()
            .expect("Resources")
            .iter()
            .map(|(k, v)| (k.as_str().expect("logical id").to_owned(), v.clone()))
            .collect();
        Template { resources }
    }

    fn of_type<'a>(&'a self, kind: &'a str) -> impl Iterator<Item = (&'a String, &'a Value)> + 'a {
        self.resources
            .iter()
            .filter(move |(_, r)| r["Type"].as_str() == Some(kind))
    }

    /// Logical id → binary name of every function.
    fn functions(&self) -> BTreeMap<String, String> {
        self.of_type("AWS::Serverless::Function")
            .map(|(id, r)| {
                assert_eq!(
                    r["Metadata"]["BuildMethod"].as_str(),
                    Some("rust-cargolambda"),
                    "{id} build method"
                );
                let binary = r["Metadata"]["BuildProperties"]["Binary"]
                    .as_str()
                    .unwrap_or_else(|| panic!("{id} has no Binary"));
                (id.clone(), binary.to_owned())
            })
            .collect()
    }

    /// (method, path) → binary, and the binary of the `$default` route.
    fn http_routes(&self) -> (BTreeMap<(String, String), String>, Vec<String>) {
        let functions = self.functions();
        let mut routes = BTreeMap::new();
        let mut defaults = Vec::new();
        for (id, r) in self.of_type("AWS::Serverless::Function") {
            let Some(events) = r["Properties"]["Events"].as_mapping() else {
                continue;
            };
            for (_, e) in events {
                if e["Type"].as_str() != Some("HttpApi") {
                    continue;
                }
                let p = &e["Properties"];
                match (p["Method"].as_str(), p["Path"].as_str()) {
                    (Some(m), Some(path)) => {
                        let previous = routes
                            .insert((m.to_uppercase(), path.to_owned()), functions[id].clone());
                        assert!(previous.is_none(), "{m} {path} declared twice");
                    }
                    (None, None) => defaults.push(functions[id].clone()),
                    _ => panic!(
                        "{id}: an HttpApi event needs both Path and Method, or neither for $default"
                    ),
                }
            }
        }
        (routes, defaults)
    }

    /// Route key → binary, following Route → Integration → Function.
    fn socket_routes(&self) -> BTreeMap<String, String> {
        let functions = self.functions();
        self.of_type("AWS::ApiGatewayV2::Route")
            .map(|(id, r)| {
                let key = r["Properties"]["RouteKey"]
                    .as_str()
                    .unwrap_or_else(|| panic!("{id} RouteKey"))
                    .to_owned();
                let target = str_of(&r["Properties"]["Target"]).expect("Target");
                let integration = target
                    .trim_start_matches("integrations/${")
                    .trim_end_matches('}');
                let uri = str_of(&self.resources[integration]["Properties"]["IntegrationUri"])
                    .expect("IntegrationUri");
                let function = functions
                    .keys()
                    .find(|f| uri.contains(&format!("${{{f}.Arn}}")))
                    .unwrap_or_else(|| panic!("{id}: integration points at no function"));
                (key, functions[function].clone())
            })
            .collect()
    }
}

#[test]
fn every_http_route_is_in_the_template_and_nothing_else() {
    let (routes, defaults) = Template::load().http_routes();
    let catalogue: BTreeMap<(String, String), String> = CATALOGUE
        .iter()
        .map(|r| {
            (
                (r.method.to_owned(), r.path.to_owned()),
                r.function.to_owned(),
            )
        })
        .collect();
    assert_eq!(
        routes, catalogue,
        "template.yaml HttpApi events vs the route catalogue"
    );
    assert_eq!(
        defaults,
        [FALLBACK_FUNCTION],
        "exactly one $default route, served by the fallback"
    );
}

#[test]
fn every_socket_route_is_in_the_template_and_nothing_else() {
    let routes = Template::load().socket_routes();
    let catalogue: BTreeMap<String, String> = SOCKET_ROUTES
        .iter()
        .map(|r| (r.route_key.to_owned(), r.function.to_owned()))
        .collect();
    assert_eq!(routes, catalogue);
}

#[test]
fn every_template_function_is_a_catalogue_function() {
    let in_template: BTreeSet<String> = Template::load().functions().into_values().collect();
    let catalogue: BTreeSet<String> = all_functions().into_iter().map(str::to_owned).collect();
    assert_eq!(in_template, catalogue);
}

#[test]
fn every_function_has_a_binary_of_its_name() {
    let mut bins = BTreeSet::new();
    for dir in std::fs::read_dir(root().join("functions")).expect("functions/") {
        let bin_dir = dir.expect("entry").path().join("src/bin");
        let Ok(entries) = std::fs::read_dir(&bin_dir) else {
            continue;
        };
        for e in entries {
            let name = e
                .expect("entry")
                .file_name()
                .to_string_lossy()
                .trim_end_matches(".rs")
                .to_owned();
            assert!(bins.insert(name.clone()), "binary {name} defined twice");
        }
    }
    let catalogue: BTreeSet<String> = all_functions().into_iter().map(str::to_owned).collect();
    assert_eq!(bins, catalogue, "functions/*/src/bin vs the catalogue");
}

/// Each function binary is declared with `test = false`: a test harness per function would
/// be built and linked on every test run for nothing (their code is one macro line).
#[test]
fn function_binaries_build_no_test_harness() {
    for dir in std::fs::read_dir(root().join("functions")).expect("functions/") {
        let dir = dir.expect("entry").path();
        let Ok(entries) = std::fs::read_dir(dir.join("src/bin")) else {
            continue;
        };
        let manifest = std::fs::read_to_string(dir.join("Cargo.toml")).expect("Cargo.toml");
        let declared: Vec<&str> = manifest.split("[[bin]]").skip(1).collect();
        for e in entries {
            let name = e
                .expect("entry")
                .file_name()
                .to_string_lossy()
                .trim_end_matches(".rs")
                .to_owned();
            let entry = declared
                .iter()
                .find(|d| d.contains(&format!("name = \"{name}\"")))
                .unwrap_or_else(|| panic!("{name} has no [[bin]] in {}", dir.display()));
            assert!(
                entry.contains("test = false"),
                "{name}: [[bin]] without test = false"
            );
        }
    }
}

#[test]
fn the_openapi_document_lists_exactly_the_catalogue() {
    let doc = yaml("docs/openapi.yaml");
    let mut documented = BTreeMap::new();
    for (path, item) in doc["paths"].as_mapping().expect("paths") {
        let path = path.as_str().expect("path");
        for (method, op) in item.as_mapping().expect("path item") {
            let method = method.as_str().expect("method").to_uppercase();
            if !matches!(method.as_str(), "GET" | "POST" | "PUT" | "PATCH" | "DELETE") {
                continue;
            }
            let id = op["operationId"]
                .as_str()
                .unwrap_or_else(|| panic!("{method} {path} has no operationId"));
            documented.insert((method, path.to_owned()), id.to_owned());
        }
    }
    let catalogue: BTreeMap<(String, String), String> = CATALOGUE
        .iter()
        .map(|r| {
            (
                (r.method.to_owned(), r.path.to_owned()),
                r.function.to_owned(),
            )
        })
        .collect();
    assert_eq!(
        documented, catalogue,
        "docs/openapi.yaml vs the catalogue (operationId = function)"
    );
}

#[test]
fn the_openapi_symptom_enum_is_the_list_the_rules_know() {
    let doc = yaml("docs/openapi.yaml");
    let documented: Vec<&str> = doc["components"]["schemas"]["Symptom"]["enum"]
        .as_sequence()
        .expect("a Symptom enum")
        .iter()
        .map(|v| v.as_str().expect("code"))
        .collect();
    let known: Vec<&str> = haven_alerts::emergencies::priority::symptom_codes().collect();
    assert_eq!(documented, known, "docs/openapi.yaml Symptom vs the domain");
}

/// `make dev` runs a debug build, and every test signs in: the password hash and the crypto
/// under tokens must be optimised there, or a login takes a second.
#[test]
fn the_dev_profile_optimises_the_crypto_a_login_runs() {
    let manifest: toml_like::Manifest = toml_like::read(&root().join("Cargo.toml"));
    for package in [
        "argon2",
        "blake2",
        "aws-lc-rs",
        "aws-lc-sys",
        "sha2",
        "hmac",
        "aes-gcm",
    ] {
        assert_eq!(
            manifest.dev_opt_level(package).as_deref(),
            Some("3"),
            "[profile.dev.package.{package}] opt-level"
        );
    }
}

/// Just enough of Cargo.toml's `[profile.dev.package.X]` tables to read their `opt-level`.
mod toml_like {
    use std::collections::BTreeMap;
    use std::path::Path;

    pub struct Manifest(BTreeMap<String, String>);

    pub fn read(path: &Path) -> Manifest {
        let text = std::fs::read_to_string(path).expect("Cargo.toml");
        let mut levels = BTreeMap::new();
        let mut table = String::new();
        for line in text.lines().map(str::trim) {
            if let Some(name) = line.strip_prefix('[').and_then(|l| l.strip_suffix(']')) {
                table = name.to_owned();
            } else if let Some((key, value)) = line.split_once('=')
                && key.trim() == "opt-level"
            {
                levels.insert(table.clone(), value.trim().trim_matches('"').to_owned());
            }
        }
        Manifest(levels)
    }

    impl Manifest {
        pub fn dev_opt_level(&self, package: &str) -> Option<String> {
            self.0
                .get(&format!("profile.dev.package.{package}"))
                .cloned()
        }
    }
}

#[test]
fn every_function_has_a_sample_event_of_its_type() {
    let mut files = BTreeSet::new();
    for e in std::fs::read_dir(root().join("events")).expect("events/") {
        let name = e.expect("entry").file_name().to_string_lossy().into_owned();
        files.insert(
            name.strip_suffix(".json")
                .unwrap_or_else(|| panic!("events/{name} is not .json"))
                .to_owned(),
        );
    }
    let catalogue: BTreeSet<String> = all_functions().into_iter().map(str::to_owned).collect();
    assert_eq!(files, catalogue, "events/*.json vs the catalogue");
    let read =
        |f: &str| std::fs::read_to_string(root().join(format!("events/{f}.json"))).expect("event");
    for r in CATALOGUE
        .iter()
        .map(|r| r.function)
        .chain([FALLBACK_FUNCTION])
    {
        let text = read(r);
        serde_json::from_str::<aws_lambda_events::apigw::ApiGatewayV2httpRequest>(&text)
            .unwrap_or_else(|e| panic!("events/{r}.json is not an HTTP API event: {e}"));
        lambda_http::request::from_str(&text)
            .unwrap_or_else(|e| panic!("events/{r}.json: lambda_http refuses it: {e}"));
    }
    for r in SOCKET_ROUTES {
        let event: aws_lambda_events::apigw::ApiGatewayWebsocketProxyRequest =
            serde_json::from_str(&read(r.function)).unwrap_or_else(|e| {
                panic!("events/{}.json is not a WebSocket event: {e}", r.function)
            });
        assert_eq!(
            event.request_context.route_key.as_deref(),
            Some(r.route_key)
        );
    }
    for w in QUEUE_WORKERS {
        serde_json::from_str::<aws_lambda_events::sqs::SqsEvent>(&read(w.function))
            .unwrap_or_else(|e| panic!("events/{}.json is not an SQS event: {e}", w.function));
    }
    for r in CATALOGUE {
        let text = read(r.function);
        let event: serde_json::Value = serde_json::from_str(&text).expect("json");
        assert_eq!(
            event["routeKey"],
            format!("{} {}", r.method, r.path),
            "events/{}.json route key",
            r.function
        );
    }
}

#[test]
fn the_local_gateway_serves_every_function() {
    type P = haven_platform::EmbeddedPorts;
    for r in CATALOGUE
        .iter()
        .map(|r| r.function)
        .chain([FALLBACK_FUNCTION])
    {
        assert!(
            haven_local::functions::http_function::<P>(r).is_some(),
            "gateway lacks {r}"
        );
    }
    for r in SOCKET_ROUTES {
        assert!(
            haven_local::functions::socket_function::<P>(r.function).is_some(),
            "gateway lacks {}",
            r.function
        );
    }
    for w in QUEUE_WORKERS {
        assert!(
            haven_local::functions::worker_function::<P>(w.function).is_some(),
            "gateway lacks {}",
            w.function
        );
    }
}

#[test]
fn the_template_declares_the_catalogue_queues_and_subscriptions() {
    let t = Template::load();
    let names: BTreeMap<String, (String, Value)> = t
        .of_type("AWS::SQS::Queue")
        .map(|(id, r)| {
            let name = str_of(&r["Properties"]["QueueName"])
                .expect("QueueName")
                .trim_start_matches("haven-${Stage}-")
                .to_owned();
            (name, (id.clone(), r.clone()))
        })
        .collect();
    let declared: BTreeSet<&str> = names.keys().map(String::as_str).collect();
    let catalogue: BTreeSet<&str> = QUEUES.iter().map(|q| q.name).collect();
    assert_eq!(
        declared, catalogue,
        "template queues vs haven_kernel::catalogue::QUEUES"
    );
    for q in QUEUES {
        let (_, r) = &names[q.name];
        let props = &r["Properties"];
        assert_eq!(
            props["VisibilityTimeout"].as_u64(),
            Some(q.visibility_timeout.as_secs()),
            "{} visibility",
            q.name
        );
        match q.dead_letter {
            Some(dl) => {
                let redrive = &props["RedrivePolicy"];
                assert_eq!(
                    redrive["maxReceiveCount"].as_u64(),
                    Some(u64::from(dl.max_receives)),
                    "{} max receives",
                    q.name
                );
                let target = untag(&redrive["deadLetterTargetArn"])
                    .as_str()
                    .expect("GetAtt");
                assert_eq!(
                    target,
                    format!("{}.Arn", names[dl.queue].0),
                    "{} dead-letter target",
                    q.name
                );
            }
            None => assert!(
                props.get("RedrivePolicy").is_none(),
                "{} has no dead-letter queue",
                q.name
            ),
        }
    }
    let subscriptions: BTreeMap<String, serde_json::Value> = t
        .of_type("AWS::SNS::Subscription")
        .filter(|(_, r)| r["Properties"]["Protocol"].as_str() == Some("sqs"))
        .map(|(_, r)| {
            let p = &r["Properties"];
            assert_eq!(p["RawMessageDelivery"].as_bool(), Some(true));
            let endpoint = untag(&p["Endpoint"])
                .as_str()
                .expect("GetAtt")
                .trim_end_matches(".Arn")
                .to_owned();
            let queue = names
                .iter()
                .find(|(_, (id, _))| *id == endpoint)
                .map(|(n, _)| n.clone())
                .expect("queue");
            let policy: serde_json::Value =
                serde_yaml_ng::from_value(p["FilterPolicy"].clone()).expect("policy");
            (queue, policy)
        })
        .collect();
    let expected: BTreeMap<String, serde_json::Value> = TOPICS
        .iter()
        .flat_map(|t| t.subscriptions)
        .map(|s| {
            (
                s.queue.to_owned(),
                serde_json::from_str(s.filter_policy).expect("policy"),
            )
        })
        .collect();
    assert_eq!(subscriptions, expected);
}

// ------------------------------------------------------------------ least privilege

use haven_edge::catalogue::ALERT_PATH;
use haven_edge::permissions::{GRANTS, Key, Permission, Resource, permissions_of};

/// The `Resource` of a policy statement's resource expression, or a panic naming it: a
/// resource the declarations cannot name is a permission nobody declared.
fn resource_of(t: &Template, function: &str, v: &Value) -> Resource {
    let tag = match v {
        Value::Tagged(t) => t.tag.to_string(),
        _ => String::new(),
    };
    let text = str_of(v).unwrap_or_else(|| panic!("{function}: resource {v:?}"));
    match (tag.as_str(), text) {
        ("", "*") => Resource::Anything,
        ("!GetAtt", "Table.Arn") => Resource::Table,
        ("!Sub", "${Table.Arn}/index/*") => Resource::TableIndexes,
        ("!Ref", "AlertsTopic") => Resource::AlertsTopic,
        ("!GetAtt", "DocumentsBucket.Arn") => Resource::DocumentsBucket,
        ("!Sub", "${DocumentsBucket.Arn}/*") => Resource::Documents,
        ("!Sub", s) if s.contains("${WebSocketApi}/${Stage}/POST/@connections/") => {
            Resource::Connections
        }
        ("!GetAtt", s) if s.ends_with(".Arn") => {
            let id = s.trim_end_matches(".Arn");
            if let Some(key) = Key::ALL.into_iter().find(|k| k.logical_id() == id) {
                return Resource::Key(key);
            }
            let queue = &t.resources[id];
            assert_eq!(
                queue["Type"].as_str(),
                Some("AWS::SQS::Queue"),
                "{function}: a permission on {id}"
            );
            let name = str_of(&queue["Properties"]["QueueName"])
                .expect("QueueName")
                .trim_start_matches("haven-${Stage}-");
            let spec = haven_kernel::catalogue::queue(name)
                .unwrap_or_else(|| panic!("{function}: queue {name} is not in the catalogue"));
            Resource::Queue(spec.name)
        }
        _ => panic!("{function}: a permission on {tag} {text}, which no declaration names"),
    }
}

fn one_or_many(v: &Value) -> Vec<Value> {
    match untag(v) {
        Value::Sequence(items) => items.clone(),
        _ => vec![v.clone()],
    }
}

/// Every (action, resource) a function's policies grant.
fn granted(t: &Template, id: &str, function: &str) -> BTreeSet<Permission> {
    let mut out = BTreeSet::new();
    let policies = &t.resources[id]["Properties"]["Policies"];
    let Some(policies) = policies.as_sequence() else {
        assert!(policies.is_null(), "{function}: Policies is not a list");
        return out;
    };
    for policy in policies {
        let statements = policy["Statement"].as_sequence().unwrap_or_else(|| {
            panic!("{function}: only inline statements are declared, not {policy:?}")
        });
        for s in statements {
            assert_eq!(s["Effect"].as_str(), Some("Allow"), "{function}");
            assert!(s.get("Condition").is_none(), "{function}: a condition");
            for action in one_or_many(&s["Action"]) {
                let action = action.as_str().expect("action").to_owned();
                for r in one_or_many(&s["Resource"]) {
                    let on = resource_of(t, function, &r);
                    let action: &'static str = Box::leak(action.clone().into_boxed_str());
                    out.insert(Permission { action, on });
                }
            }
        }
    }
    out
}

#[test]
fn every_function_has_exactly_the_permissions_it_declares() {
    let t = Template::load();
    let mut failures = Vec::new();
    for (id, function) in t.functions() {
        let declared = permissions_of(&function).unwrap_or_else(|| {
            panic!("{function} has no declared grants (haven_edge::permissions)")
        });
        let granted = granted(&t, &id, &function);
        let extra: Vec<_> = granted.difference(&declared).collect();
        let missing: Vec<_> = declared.difference(&granted).collect();
        if !extra.is_empty() || !missing.is_empty() {
            failures.push(format!(
                "{function}: not declared {extra:?}; declared but not granted {missing:?}"
            ));
        }
    }
    assert!(failures.is_empty(), "{}", failures.join("\n"));
}

#[test]
fn a_function_seals_with_its_own_key_and_opens_only_the_keys_it_names() {
    let t = Template::load();
    let globals = yaml("template.yaml");
    let env_of = |id: &str, name: &str| -> Option<String> {
        let local = &t.resources[id]["Properties"]["Environment"]["Variables"][name];
        let global = &globals["Globals"]["Function"]["Environment"]["Variables"][name];
        [local, global]
            .into_iter()
            .find(|v| !v.is_null())
            .and_then(|v| str_of(v).map(str::to_owned))
    };
    let key_named = |logical: &str| Key::ALL.into_iter().find(|k| k.logical_id() == logical);
    for (id, function) in t.functions() {
        let grants = haven_edge::permissions::grants_of(&function).expect("declared");
        let own = env_of(&id, "HAVEN_KMS_KEY_ID").and_then(|k| key_named(&k));
        let also: Vec<Key> = env_of(&id, "HAVEN_KMS_ALSO_OPENS")
            .map(|k| k.split(',').filter_map(key_named).collect())
            .unwrap_or_default();
        for g in grants {
            match g {
                haven_edge::permissions::Grant::Seal(k) => {
                    assert_eq!(own, Some(*k), "{function} seals under HAVEN_KMS_KEY_ID")
                }
                haven_edge::permissions::Grant::Open(k) => assert!(
                    own == Some(*k) || also.contains(k),
                    "{function} opens {k:?} but neither HAVEN_KMS_KEY_ID nor HAVEN_KMS_ALSO_OPENS names it"
                ),
                _ => {}
            }
        }
    }
}

#[test]
fn every_function_logs_to_its_own_group_with_a_retention() {
    let t = Template::load();
    for (id, function) in t.functions() {
        let config = &t.resources[&id]["Properties"]["LoggingConfig"];
        assert_eq!(config["LogFormat"].as_str(), Some("JSON"), "{function}");
        let group = str_of(&config["LogGroup"]).unwrap_or_else(|| panic!("{function} log group"));
        let g = &t.resources[group];
        assert_eq!(
            g["Type"].as_str(),
            Some("AWS::Logs::LogGroup"),
            "{function}"
        );
        assert_eq!(
            str_of(&g["Properties"]["LogGroupName"]),
            Some(format!("/haven/${{Stage}}/{function}").as_str())
        );
        assert!(
            !g["Properties"]["RetentionInDays"].is_null(),
            "{function}: logs kept forever"
        );
    }
}

#[test]
fn the_alert_path_has_reserved_concurrency_and_nothing_else_does() {
    let t = Template::load();
    for (id, function) in t.functions() {
        let reserved = &t.resources[&id]["Properties"]["ReservedConcurrentExecutions"];
        assert_eq!(
            !reserved.is_null(),
            ALERT_PATH.contains(&function.as_str()),
            "{function}: reserved concurrency"
        );
    }
    for f in ALERT_PATH {
        assert!(all_functions().contains(f), "{f} is not a function");
    }
}

#[test]
fn every_dead_letter_queue_and_the_alert_path_have_alarms_with_runbooks() {
    let t = Template::load();
    let runbook = std::fs::read_to_string(root().join("docs/operations.md")).expect("runbook");
    let alarms: Vec<(&String, &Value)> = t.of_type("AWS::CloudWatch::Alarm").collect();
    for (id, a) in &alarms {
        let p = &a["Properties"];
        assert!(
            str_of(&p["AlarmActions"][0]) == Some("AlarmTopic"),
            "{id} notifies no one"
        );
        let description = p["AlarmDescription"].as_str().expect("description");
        let heading = description
            .split("docs/operations.md \"")
            .nth(1)
            .and_then(|r| r.split('"').next())
            .unwrap_or_else(|| panic!("{id} names no runbook entry"));
        assert!(
            runbook.contains(&format!("## {heading}")),
            "docs/operations.md has no \"## {heading}\" for {id}"
        );
    }
    // Each dead-letter queue is watched.
    for q in QUEUES.iter().filter(|q| q.dead_letter.is_none()) {
        let (queue_id, _) = t
            .of_type("AWS::SQS::Queue")
            .find(|(_, r)| {
                str_of(&r["Properties"]["QueueName"])
                    == Some(format!("haven-${{Stage}}-{}", q.name).as_str())
            })
            .expect("queue");
        assert!(
            alarms.iter().any(|(_, a)| {
                let p = &a["Properties"];
                p["MetricName"].as_str() == Some("ApproximateNumberOfMessagesVisible")
                    && str_of(&p["Dimensions"][0]["Value"])
                        == Some(format!("{queue_id}.QueueName").as_str())
            }),
            "no alarm on {}",
            q.name
        );
    }
    // The alarm on Haven's own metric names one the functions emit.
    let custom: Vec<&str> = alarms
        .iter()
        .filter(|(_, a)| {
            a["Properties"]["Namespace"].as_str() == Some(haven_edge::logging::NAMESPACE)
        })
        .map(|(_, a)| a["Properties"]["MetricName"].as_str().expect("metric"))
        .collect();
    assert!(custom.contains(&"AlertsUnacknowledged"));
    for m in custom {
        assert!(
            haven_kernel::metrics::Metric::ALL
                .iter()
                .any(|x| x.name() == m),
            "alarm on {m}, which no function emits"
        );
    }
    let alert_fn = t
        .functions()
        .into_iter()
        .find(|(_, b)| b == "emergency-alert")
        .map(|(id, _)| id)
        .expect("alert function");
    for metric in ["Errors", "Duration"] {
        assert!(
            alarms.iter().any(|(_, a)| {
                let p = &a["Properties"];
                p["MetricName"].as_str() == Some(metric)
                    && str_of(&p["Dimensions"][0]["Value"]) == Some(alert_fn.as_str())
            }),
            "no {metric} alarm on the alert function"
        );
    }
}

#[test]
fn declarations_cover_only_real_functions() {
    let functions: BTreeSet<&str> = all_functions().into_iter().collect();
    for g in GRANTS {
        assert!(
            functions.contains(g.function),
            "{} is not a function",
            g.function
        );
    }
}
