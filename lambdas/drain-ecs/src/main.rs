use drain_ecs::{handler, Deps};
use lambda_runtime::{run, service_fn, Error};
use sta_shared::config::DrainConfig;

#[tokio::main]
async fn main() -> Result<(), Error> {
    sta_shared::init_tracing();
    let config = DrainConfig::from_env()?;
    let clients = sta_shared::Clients::from_env().await;
    let deps = Deps {
        ecs: clients.ecs,
        autoscaling: clients.autoscaling,
        config,
    };
    let deps = &deps;
    run(service_fn(move |event| async move {
        handler(deps, event).await
    }))
    .await
}
