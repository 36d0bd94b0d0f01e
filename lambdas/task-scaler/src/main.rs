use lambda_runtime::Error;
use task_scaler::{handler, Deps};

#[tokio::main]
async fn main() -> Result<(), Error> {
    sta_shared::init_tracing();
    let clients = sta_shared::Clients::from_env().await;
    let deps = Deps {
        ecs: clients.ecs,
        autoscaling: clients.autoscaling,
    };
    sta_shared::serve(deps, handler).await
}
