use check_drained::{handler, Deps};
use lambda_runtime::{run, service_fn, Error};

#[tokio::main]
async fn main() -> Result<(), Error> {
    sta_shared::init_tracing();
    let clients = sta_shared::Clients::from_env().await;
    let deps = Deps {
        autoscaling: clients.autoscaling,
        ecs: clients.ecs,
        elb: clients.elb,
        elbv2: clients.elbv2,
    };
    let deps = &deps;
    run(service_fn(move |event| async move {
        handler(deps, event).await
    }))
    .await
}
