//! Shared test support: backends for the contract suite (embedded on a temporary directory,
//! AWS on moto's server) and a running local gateway for end-to-end tests.

pub mod backends;
pub mod bench;
pub mod burst;
pub mod cases;
pub mod facilities;
pub mod gateway;
pub mod http;
pub mod independent;
pub mod receiver;

/// Lists every contract case once; `$m!` receives them all. Both backends instantiate the
/// suite through this one list, so they always run the same cases.
#[macro_export]
macro_rules! for_each_contract_case {
    ($m:ident, $make:path) => {
        $m!($make;
            conditional_put_is_refused_on_an_existing_item,
            optimistic_locking_by_version,
            update_creates_and_returns_the_new_item,
            conditional_delete_returns_the_old_item,
            sort_key_equality_prefix_and_range_queries,
            gsi_queries_see_only_items_with_index_keys,
            pagination_with_cursors_in_both_directions,
            transactions_are_all_or_nothing,
            transactions_hold_at_most_100_items,
            expired_items_are_not_returned,
            get_many_reads_items_in_the_order_asked,
            queue_delay_hides_a_message_until_due,
            visibility_timeout_and_redelivery,
            change_visibility_releases_a_message_early,
            dead_letter_after_n_receives,
            queue_depth_counts_visible_in_flight_and_delayed,
            unknown_queue_and_topic_are_reported,
            topic_fans_out_to_queues_by_filter_policy,
            sms_to_an_invalid_number_is_refused,
            data_key_round_trip,
            decryption_is_refused_under_another_context,
            blobs_round_trip_and_are_written_once,
            blob_inspection_reads_the_size_and_the_first_bytes,
        );
    };
}

/// Generates one `#[tokio::test]` per case for the backend `$make` builds.
#[macro_export]
macro_rules! contract_tests {
    ($make:path; $($case:ident),* $(,)?) => {
        $(
            #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
            async fn $case() {
                let backend = $make().await;
                $crate::cases::$case(&backend).await;
            }
        )*
    };
}

/// Generates each end-to-end case twice: against a gateway on the embedded backend and one on
/// the AWS adapters (moto). Each case is an `async fn(RunningGateway)` in the calling module.
#[macro_export]
macro_rules! on_both_backends {
    ($($case:ident),* $(,)?) => {
        mod embedded {
            $(
                #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
                async fn $case() {
                    super::$case($crate::gateway::embedded().await).await;
                }
            )*
        }
        mod aws {
            $(
                #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
                async fn $case() {
                    super::$case($crate::gateway::aws().await).await;
                }
            )*
        }
    };
}

/// As `on_both_backends!`, for cases that choose their gateway's options: each case is an
/// `async fn(make)` where `make(options)` starts the gateway.
#[macro_export]
macro_rules! on_both_backends_with_pipeline {
    ($($case:ident),* $(,)?) => {
        mod embedded {
            $(
                #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
                async fn $case() {
                    super::$case($crate::gateway::embedded_with).await;
                }
            )*
        }
        mod aws {
            $(
                #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
                async fn $case() {
                    super::$case($crate::gateway::aws_with).await;
                }
            )*
        }
    };
}
