use deregister_lb::{handler, Deps};
use lambda_runtime::Error;

#[tokio::main]
async fn main() -> Result<(), Error> {
    sta_shared::init_tracing();
    sta_shared::serve(Deps::from_env().await, handler).await
}
