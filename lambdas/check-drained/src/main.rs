use check_drained::handler;
use lambda_runtime::Error;

#[tokio::main]
async fn main() -> Result<(), Error> {
    sta_shared::init_tracing();
    sta_shared::serve(Ok(sta_shared::Clients::from_env().await), handler).await
}
