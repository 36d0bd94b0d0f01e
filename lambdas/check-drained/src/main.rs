use check_drained::handler;
use lambda_runtime::{run, service_fn, Error};

#[tokio::main]
async fn main() -> Result<(), Error> {
    sta_shared::init_tracing();
    let deps = sta_shared::Clients::from_env().await;
    let deps = &deps;
    run(service_fn(move |event| async move {
        handler(deps, event).await
    }))
    .await
}
