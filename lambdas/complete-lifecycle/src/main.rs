use complete_lifecycle::{handler, Deps};
use lambda_runtime::{run, service_fn, Error};

#[tokio::main]
async fn main() -> Result<(), Error> {
    sta_shared::init_tracing();
    let clients = sta_shared::Clients::from_env().await;
    let deps = Deps {
        autoscaling: clients.autoscaling,
    };
    let deps = &deps;
    run(service_fn(move |event| async move {
        handler(deps, event).await
    }))
    .await
}
