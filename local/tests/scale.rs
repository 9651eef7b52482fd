//! A plan of the large application's shape, scaled down so the test takes seconds: 2 zones /
//! 200 records, 10 databases, 40 services (a fifth of the benchmark's 1,000 records, 50
//! databases, 200 services). It recovers end to end against moto, every state stays under
//! 64 KiB scaled by the same fifth (13,107 bytes), and the calls grow with zones and batches.

use rebound::bench::{recover, Moved, Shape};

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_plan_of_hundreds_of_resources_recovers_with_every_state_small() {
    let shape = Shape {
        zones: 2,
        records: 200,
        databases: 10,
        services: 40,
    };
    let f = recover(shape).await.unwrap_or_else(|e| panic!("{e}"));
    assert!(f.succeeded, "{:?}", f.error);
    assert_eq!(
        f.moved,
        Moved {
            records: 200,
            databases: 10,
            services: 40,
            lease_released: true
        }
    );
    let bound = 64 * 1024 / 5;
    assert!(
        f.largest_payload_bytes <= bound,
        "{} bytes ({}), bound {bound}",
        f.largest_payload_bytes,
        f.largest_payload
    );
    let calls = |op: &str| f.calls.get(op).copied().unwrap_or(0);
    assert_eq!(calls("sns:Publish"), 1, "the notification went out");
    // One listing per zone per pass (readiness, start, validation rounds), never per record.
    assert!(calls("route53:ListResourceRecordSets") <= 2 * 8, "{:?}", f.calls);
    // Ten services a DescribeServices call: at most four calls per Task run (the services' own
    // steps poll as long as ECS takes to start the tasks), never one per service.
    assert!(
        calls("ecs:DescribeServices") <= 4 * f.task_runs,
        "{:?} in {} task runs",
        f.calls,
        f.task_runs
    );
    println!(
        "{}: {} ms, {} calls, largest state {} B",
        f.shape, f.wall_ms, f.total_calls, f.largest_payload_bytes
    );
}
