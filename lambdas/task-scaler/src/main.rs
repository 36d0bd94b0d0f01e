use lambda_runtime::{run, service_fn, Error};
use task_scaler::{handler, Deps};

#[tokio::main]
async fn main() -> Result<(), Error> {
    sta_shared::init_tracing();
    let clients = sta_shared::Clients::from_env().await;
    let deps = Deps {
        ecs: clients.ecs,
        autoscaling: clients.autoscaling,
    };
    let deps = &deps;
    run(service_fn(move |event| async move {
        handler(deps, event).await
    }))
    .await
}
