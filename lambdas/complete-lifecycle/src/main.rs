use complete_lifecycle::{handler, Deps};
use lambda_runtime::Error;

#[tokio::main]
async fn main() -> Result<(), Error> {
    sta_shared::init_tracing();
    let clients = sta_shared::Clients::from_env().await;
    let deps = Deps {
        autoscaling: clients.autoscaling,
    };
    sta_shared::serve(deps, handler).await
}
