use drain_ecs::{handler, Deps};
use lambda_runtime::Error;
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
    sta_shared::serve(deps, handler).await
}
