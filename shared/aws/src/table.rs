//! The Table port on DynamoDB.

use std::collections::{BTreeSet, HashMap};
use std::error::Error as StdError;
use std::fmt::Debug;
use std::sync::Arc;

use aws_sdk_dynamodb::Client;
use aws_sdk_dynamodb::error::SdkError;
use aws_sdk_dynamodb::operation::transact_write_items::TransactWriteItemsError;
use aws_sdk_dynamodb::types::{
    AttributeValue, ConditionCheck, Delete, KeysAndAttributes, Put, ReturnValue, TransactWriteItem,
    Update as DynamoUpdate,
};
use aws_smithy_types::error::metadata::ProvideErrorMetadata;
use haven_kernel::item::{EXPIRES_AT, PK, SK};
use haven_kernel::ports::table::{CancelReason, MAX_BATCH_GET, validate_transaction};
use haven_kernel::ports::{
    Condition, Cursor, Index, Page, Query, SortKey, Table, TableError, TransactOp, Update,
};
use haven_kernel::{Clock, Item, Key};

use crate::attributes::{item_from_attributes, item_to_attributes, key_to_attributes};
use crate::error::Failure;
use crate::expression::Expression;

/// The key GetItem reads for readiness; no item is ever written there.
const PING_PK: &str = "HAVEN#HEALTH";
const PING_SK: &str = "PING";

#[derive(Clone)]
pub struct DynamoTable {
    client: Client,
    table_name: String,
    clock: Arc<dyn Clock>,
}

impl std::fmt::Debug for DynamoTable {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("DynamoTable")
            .field("table_name", &self.table_name)
            .finish_non_exhaustive()
    }
}

impl DynamoTable {
    pub fn new(client: Client, table_name: impl Into<String>, clock: Arc<dyn Clock>) -> Self {
        DynamoTable {
            client,
            table_name: table_name.into(),
            clock,
        }
    }

    pub fn client(&self) -> &Client {
        &self.client
    }

    pub fn table_name(&self) -> &str {
        &self.table_name
    }

    fn now(&self) -> i64 {
        self.clock.now().epoch_seconds()
    }

    /// One GetItem of a sentinel key: proves credentials, network and the table.
    pub async fn ping(&self) -> Result<(), String> {
        self.client
            .get_item()
            .table_name(&self.table_name)
            .set_key(Some(key_to_attributes(&Key::new(PING_PK, PING_SK))))
            .send()
            .await
            .map(|_| ())
            .map_err(|e| Failure::of(&e).summary)
    }
}

/// A condition rendered into its request's placeholders, or nothing.
fn render_condition(expression: &mut Expression, condition: Option<&Condition>) -> Option<String> {
    condition.map(|c| expression.condition(c))
}

/// Maps a DynamoDB failure to the port's error. Transactions are handled apart, because
/// their reasons live in the typed error.
fn table_error<E, R>(err: &SdkError<E, R>) -> TableError
where
    E: ProvideErrorMetadata + StdError + 'static,
    R: Debug,
{
    classify(&Failure::of(err))
}

fn classify(failure: &Failure) -> TableError {
    if failure.code_is(&["ConditionalCheckFailedException"]) {
        TableError::ConditionFailed
    } else if failure.code_is(&[
        "ProvisionedThroughputExceededException",
        "ThrottlingException",
        "RequestLimitExceeded",
    ]) {
        TableError::Throttled
    } else if failure.code_is(&["ValidationException"]) {
        TableError::Invalid(failure.message_or_summary())
    } else {
        tracing::warn!(error = %failure.summary, "DynamoDB request failed");
        TableError::Unavailable(failure.summary.clone())
    }
}

fn cancel_reason(code: Option<&str>) -> CancelReason {
    match code {
        None | Some("None") | Some("") => CancelReason::None,
        Some("ConditionalCheckFailed") => CancelReason::ConditionFailed,
        Some(_) => CancelReason::Other,
    }
}

fn transaction_error<R: Debug>(err: &SdkError<TransactWriteItemsError, R>) -> TableError {
    if let Some(TransactWriteItemsError::TransactionCanceledException(cancelled)) =
        err.as_service_error()
    {
        let reasons = cancelled
            .cancellation_reasons()
            .iter()
            .map(|r| cancel_reason(r.code()))
            .collect();
        return TableError::TransactionCanceled(reasons);
    }
    table_error(err)
}

fn build_error(e: impl std::fmt::Display) -> TableError {
    TableError::Invalid(format!("cannot build the request: {e}"))
}

/// The key attributes a cursor of `index` may carry: the table key, plus the index key on a
/// GSI. Anything else was not issued by a query on this index.
fn cursor_key(
    index: Index,
    partition: &str,
    cursor: &Cursor,
) -> Result<HashMap<String, AttributeValue>, TableError> {
    let attributes = cursor.key_attributes()?;
    // A cursor from another partition, or with empty key values, would be refused by
    // DynamoDB as a ValidationException (a 503 to the client): refuse it as a bad cursor.
    if attributes.s(index.partition_attribute()) != Some(partition)
        || attributes
            .0
            .values()
            .any(|v| v.as_s().is_some_and(str::is_empty))
    {
        return Err(TableError::InvalidCursor);
    }
    let mut allowed = BTreeSet::from([PK, SK]);
    allowed.insert(index.partition_attribute());
    allowed.insert(index.sort_attribute());
    let names: BTreeSet<&str> = attributes.0.keys().map(String::as_str).collect();
    if names.len() != allowed.len() || !names.is_subset(&allowed) {
        return Err(TableError::InvalidCursor);
    }
    Ok(item_to_attributes(&attributes))
}

/// Refuses what the embedded table refuses, before any request is made.
fn validate_query(query: &Query) -> Result<(), TableError> {
    if query.partition.is_empty() {
        return Err(TableError::Invalid(
            "a query needs a partition value".into(),
        ));
    }
    if query.limit == Some(0) {
        return Err(TableError::Invalid("a query limit is at least 1".into()));
    }
    if let Some(SortKey::Between(lo, hi)) = &query.sort
        && lo.as_bytes() > hi.as_bytes()
    {
        return Err(TableError::Invalid(
            "BETWEEN needs its lower bound first".into(),
        ));
    }
    Ok(())
}

impl DynamoTable {
    fn transact_item(&self, op: TransactOp) -> Result<TransactWriteItem, TableError> {
        let mut expression = Expression::new();
        let item = match op {
            TransactOp::Put { item, condition } => {
                let condition = render_condition(&mut expression, condition.as_ref());
                let put = Put::builder()
                    .table_name(&self.table_name)
                    .set_item(Some(item_to_attributes(&item)))
                    .set_condition_expression(condition)
                    .set_expression_attribute_names(expression.names())
                    .set_expression_attribute_values(expression.values())
                    .build()
                    .map_err(build_error)?;
                TransactWriteItem::builder().put(put)
            }
            TransactOp::Update {
                key,
                update,
                condition,
            } => {
                let text = expression.update(&update);
                let condition = render_condition(&mut expression, condition.as_ref());
                let update = DynamoUpdate::builder()
                    .table_name(&self.table_name)
                    .set_key(Some(key_to_attributes(&key)))
                    .update_expression(text)
                    .set_condition_expression(condition)
                    .set_expression_attribute_names(expression.names())
                    .set_expression_attribute_values(expression.values())
                    .build()
                    .map_err(build_error)?;
                TransactWriteItem::builder().update(update)
            }
            TransactOp::Delete { key, condition } => {
                let condition = render_condition(&mut expression, condition.as_ref());
                let delete = Delete::builder()
                    .table_name(&self.table_name)
                    .set_key(Some(key_to_attributes(&key)))
                    .set_condition_expression(condition)
                    .set_expression_attribute_names(expression.names())
                    .set_expression_attribute_values(expression.values())
                    .build()
                    .map_err(build_error)?;
                TransactWriteItem::builder().delete(delete)
            }
            TransactOp::Check { key, condition } => {
                let condition = expression.condition(&condition);
                let check = ConditionCheck::builder()
                    .table_name(&self.table_name)
                    .set_key(Some(key_to_attributes(&key)))
                    .condition_expression(condition)
                    .set_expression_attribute_names(expression.names())
                    .set_expression_attribute_values(expression.values())
                    .build()
                    .map_err(build_error)?;
                TransactWriteItem::builder().condition_check(check)
            }
        };
        Ok(item.build())
    }
}

impl Table for DynamoTable {
    async fn get(&self, key: &Key) -> Result<Option<Item>, TableError> {
        let out = self
            .client
            .get_item()
            .table_name(&self.table_name)
            .set_key(Some(key_to_attributes(key)))
            .consistent_read(true)
            .send()
            .await
            .map_err(|e| table_error(&e))?;
        let Some(attributes) = out.item else {
            return Ok(None);
        };
        let item = item_from_attributes(attributes)?;
        // DynamoDB removes expired items lazily; until then they read as absent.
        Ok((!item.is_expired(self.now())).then_some(item))
    }

    async fn get_many(&self, keys: &[Key]) -> Result<Vec<Option<Item>>, TableError> {
        let mut found: HashMap<Key, Item> = HashMap::new();
        let now = self.now();
        for chunk in keys.chunks(MAX_BATCH_GET) {
            // BatchGetItem refuses a repeated key; ask for each once.
            let unique: BTreeSet<&Key> = chunk.iter().collect();
            let mut pending: Vec<HashMap<String, AttributeValue>> =
                unique.into_iter().map(key_to_attributes).collect();
            let mut rounds = 0u32;
            while !pending.is_empty() {
                let request = KeysAndAttributes::builder()
                    .set_keys(Some(std::mem::take(&mut pending)))
                    .consistent_read(true)
                    .build()
                    .map_err(|e| TableError::Invalid(e.to_string()))?;
                let out = self
                    .client
                    .batch_get_item()
                    .request_items(&self.table_name, request)
                    .send()
                    .await
                    .map_err(|e| table_error(&e))?;
                for attributes in out
                    .responses
                    .and_then(|mut r| r.remove(&self.table_name))
                    .unwrap_or_default()
                {
                    let item = item_from_attributes(attributes)?;
                    if let Some(key) = item.key()
                        && !item.is_expired(now)
                    {
                        found.insert(key, item);
                    }
                }
                // Keys DynamoDB did not get to (throttling, the 16 MB limit): ask again, with
                // a short pause that grows, as AWS advises.
                pending = out
                    .unprocessed_keys
                    .and_then(|mut u| u.remove(&self.table_name))
                    .map(|k| k.keys)
                    .unwrap_or_default();
                if !pending.is_empty() {
                    rounds += 1;
                    if rounds > 8 {
                        return Err(TableError::Throttled);
                    }
                    tokio::time::sleep(std::time::Duration::from_millis(10 << rounds.min(6))).await;
                }
            }
        }
        Ok(keys.iter().map(|k| found.get(k).cloned()).collect())
    }

    async fn put(&self, item: Item, condition: Option<Condition>) -> Result<(), TableError> {
        if item.key().is_none() {
            return Err(TableError::Invalid(
                "every item needs string pk and sk".into(),
            ));
        }
        let mut expression = Expression::new();
        let condition = render_condition(&mut expression, condition.as_ref());
        self.client
            .put_item()
            .table_name(&self.table_name)
            .set_item(Some(item_to_attributes(&item)))
            .set_condition_expression(condition)
            .set_expression_attribute_names(expression.names())
            .set_expression_attribute_values(expression.values())
            .send()
            .await
            .map_err(|e| table_error(&e))?;
        Ok(())
    }

    async fn update(
        &self,
        key: &Key,
        update: Update,
        condition: Option<Condition>,
    ) -> Result<Item, TableError> {
        update.validate()?;
        let mut expression = Expression::new();
        let text = expression.update(&update);
        let condition = render_condition(&mut expression, condition.as_ref());
        let out = self
            .client
            .update_item()
            .table_name(&self.table_name)
            .set_key(Some(key_to_attributes(key)))
            .update_expression(text)
            .set_condition_expression(condition)
            .set_expression_attribute_names(expression.names())
            .set_expression_attribute_values(expression.values())
            .return_values(ReturnValue::AllNew)
            .send()
            .await
            .map_err(|e| table_error(&e))?;
        match out.attributes {
            Some(attributes) => item_from_attributes(attributes),
            // ALL_NEW always returns the item; be explicit rather than invent one.
            None => Err(TableError::Unavailable(
                "UpdateItem returned no attributes".into(),
            )),
        }
    }

    async fn delete(
        &self,
        key: &Key,
        condition: Option<Condition>,
    ) -> Result<Option<Item>, TableError> {
        let mut expression = Expression::new();
        let condition = render_condition(&mut expression, condition.as_ref());
        let out = self
            .client
            .delete_item()
            .table_name(&self.table_name)
            .set_key(Some(key_to_attributes(key)))
            .set_condition_expression(condition)
            .set_expression_attribute_names(expression.names())
            .set_expression_attribute_values(expression.values())
            .return_values(ReturnValue::AllOld)
            .send()
            .await
            .map_err(|e| table_error(&e))?;
        match out.attributes {
            Some(attributes) if !attributes.is_empty() => {
                item_from_attributes(attributes).map(Some)
            }
            _ => Ok(None),
        }
    }

    async fn query(&self, query: Query) -> Result<Page, TableError> {
        validate_query(&query)?;
        let start = query
            .cursor
            .as_ref()
            .map(|c| cursor_key(query.index, &query.partition, c))
            .transpose()?;
        let mut expression = Expression::new();
        let key_condition =
            expression.key_condition(query.index, &query.partition, query.sort.as_ref());
        let filter = expression.not_expired(EXPIRES_AT, self.now());
        let out = self
            .client
            .query()
            .table_name(&self.table_name)
            .set_index_name(query.index.name().map(str::to_owned))
            .key_condition_expression(key_condition)
            .filter_expression(filter)
            .set_expression_attribute_names(expression.names())
            .set_expression_attribute_values(expression.values())
            .scan_index_forward(query.forward)
            .set_limit(query.limit.map(|l| i32::try_from(l).unwrap_or(i32::MAX)))
            .set_exclusive_start_key(start)
            // GSIs are eventually consistent only; DynamoDB refuses ConsistentRead on them.
            .set_consistent_read((query.index == Index::Table).then_some(true))
            .send()
            .await
            .map_err(|e| table_error(&e))?;
        let items = out
            .items
            .unwrap_or_default()
            .into_iter()
            .map(item_from_attributes)
            .collect::<Result<Vec<_>, _>>()?;
        let cursor = match out.last_evaluated_key {
            Some(key) if !key.is_empty() => {
                Some(Cursor::from_key_attributes(&item_from_attributes(key)?))
            }
            _ => None,
        };
        Ok(Page { items, cursor })
    }

    async fn transact_write(&self, ops: Vec<TransactOp>) -> Result<(), TableError> {
        validate_transaction(&ops)?;
        let items = ops
            .into_iter()
            .map(|op| self.transact_item(op))
            .collect::<Result<Vec<_>, _>>()?;
        self.client
            .transact_write_items()
            .set_transact_items(Some(items))
            .send()
            .await
            .map_err(|e| transaction_error(&e))?;
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use haven_kernel::Value;

    fn failure(code: &str, message: &str) -> Failure {
        Failure {
            code: Some(code.to_owned()),
            message: Some(message.to_owned()),
            summary: format!("{code}: {message}"),
        }
    }

    #[test]
    fn service_codes_map_to_port_errors() {
        assert_eq!(
            classify(&failure("ConditionalCheckFailedException", "x")),
            TableError::ConditionFailed
        );
        for code in [
            "ProvisionedThroughputExceededException",
            "ThrottlingException",
            "RequestLimitExceeded",
        ] {
            assert_eq!(classify(&failure(code, "slow down")), TableError::Throttled);
        }
        assert_eq!(
            classify(&failure("ValidationException", "bad key")),
            TableError::Invalid("bad key".into())
        );
        assert_eq!(
            classify(&failure("ResourceNotFoundException", "no table")),
            TableError::Unavailable("ResourceNotFoundException: no table".into())
        );
    }

    #[test]
    fn cancellation_codes_map_to_reasons() {
        assert_eq!(cancel_reason(None), CancelReason::None);
        assert_eq!(cancel_reason(Some("None")), CancelReason::None);
        assert_eq!(
            cancel_reason(Some("ConditionalCheckFailed")),
            CancelReason::ConditionFailed
        );
        assert_eq!(
            cancel_reason(Some("TransactionConflict")),
            CancelReason::Other
        );
    }

    #[test]
    fn cursors_must_carry_exactly_the_index_keys() {
        let table_key = Item::new(&Key::new("p", "s"));
        let c = Cursor::from_key_attributes(&table_key);
        assert!(cursor_key(Index::Table, "p", &c).is_ok());
        assert_eq!(
            cursor_key(Index::Table, "another", &c),
            Err(TableError::InvalidCursor),
            "another partition's cursor"
        );
        assert_eq!(
            cursor_key(Index::Gsi1, "p", &c),
            Err(TableError::InvalidCursor)
        );
        let gsi_key = table_key
            .clone()
            .with("gsi1pk", Value::s("OWNER#1"))
            .with("gsi1sk", Value::s("1"));
        let c = Cursor::from_key_attributes(&gsi_key);
        assert_eq!(
            cursor_key(Index::Gsi1, "OWNER#1", &c).map(|k| k.len()),
            Ok(4)
        );
        assert_eq!(
            cursor_key(Index::Gsi2, "OWNER#1", &c),
            Err(TableError::InvalidCursor)
        );
        assert_eq!(
            cursor_key(Index::Table, "p", &c),
            Err(TableError::InvalidCursor)
        );
    }

    #[test]
    fn queries_are_checked_before_any_request() {
        assert!(validate_query(&Query::partition("")).is_err());
        assert!(validate_query(&Query::partition("p").limit(0)).is_err());
        assert!(
            validate_query(&Query::partition("p").sort(SortKey::Between("b".into(), "a".into())))
                .is_err()
        );
        assert!(
            validate_query(&Query::partition("p").sort(SortKey::Between("a".into(), "a".into())))
                .is_ok()
        );
    }
}
