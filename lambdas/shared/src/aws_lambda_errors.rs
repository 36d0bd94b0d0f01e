//! The errors Step Functions reports for a Lambda task that failed for reasons other than
//! our code's own errors ([`crate::error::ERROR_NAMES`]). Every Task of the state machine
//! retries all of them; the ASL contract test reads these lists from here.

/// AWS's list of transient Lambda service errors to retry in a state machine: "Handle
/// Lambda service exceptions" (Step Functions Developer Guide) names the first three and
/// `Lambda.AWSLambdaException` (retried for longer: [`NOT_ACTIVE_ERRORS`]), and
/// `Lambda.TooManyRequestsException` is what Step Functions reports when Lambda hits its
/// concurrency limit.
pub const TRANSIENT_LAMBDA_SERVICE_ERRORS: [&str; 4] = [
    "Lambda.ServiceException",
    "Lambda.SdkClientException",
    "Lambda.ClientExecutionTimeoutException",
    "Lambda.TooManyRequestsException",
];

/// Failures of one run of a function that another run may not have: an unhandled error or
/// crash (`Lambda.Unknown`, `Runtime.ExitError`), the function's own timeout
/// (`Sandbox.Timedout`) and the Task's `TimeoutSeconds` (`States.Timeout`). Every step is
/// idempotent, so running it again is safe.
pub const FAILED_RUN_ERRORS: [&str; 4] = [
    "Lambda.Unknown",
    "Sandbox.Timedout",
    "Runtime.ExitError",
    "States.Timeout",
];

/// A function that is not Active ("Lambda function states", Lambda Developer Guide; the
/// errors are the Invoke API reference's). One idle long enough for Lambda to reclaim the
/// resources configured for it is Inactive: its first invocation fails and sets it Pending,
/// and invocations fail until its resources are recreated, which takes minutes. Outside a
/// VPC it answers `CodeArtifactUserPendingException`; in a VPC
/// `ResourceNotReadyException`, then `ResourceConflictException` while Pending, or
/// `ENINotReadyException` while its network interface is not ready. The drain's functions
/// run only on a scale-in, so the first drain after weeks without one meets them so.
/// Step Functions names Lambda's errors after the classes of the AWS SDK for Java (v1), which
/// has none for `CodeArtifactUserPendingException` or `ENINotReadyException`: they may come
/// as its generic `Lambda.AWSLambdaException` (AWS does not say), so that one is retried as
/// long as these too (a denial of `lambda:InvokeFunction` comes as it as well: such a drain
/// FAILS only once these retries run out). Retried for longer than the transient errors,
/// with [`VPC_SETUP_ERRORS`].
pub const NOT_ACTIVE_ERRORS: [&str; 5] = [
    "Lambda.CodeArtifactUserPendingException",
    "Lambda.ResourceNotReadyException",
    "Lambda.ResourceConflictException",
    "Lambda.ENINotReadyException",
    "Lambda.AWSLambdaException",
];

/// A function in a VPC whose network set-up failed (the Invoke API reference, all HTTP
/// 502): Amazon EC2 throttled Lambda while it initialized the function, an unexpected EC2
/// error, no network interface left under the limit, no free address in a subnet. AWS does
/// not say which invocations can meet them, so any drain step may, nor that they are
/// transient: retrying them is our judgement, that throttling and unexpected errors pass
/// and that interfaces and addresses may come free as others go (exhausted quotas or
/// subnets need an operator: the retries then run out and the drain FAILS, visibly).
/// Retried as long as a function that is not Active yet. Not retried: what only a change of
/// configuration clears (`EC2AccessDeniedException`, an invalid subnet or security group):
/// the drain FAILS at once, visibly.
pub const VPC_SETUP_ERRORS: [&str; 4] = [
    "Lambda.EC2ThrottledException",
    "Lambda.EC2UnexpectedException",
    "Lambda.ENILimitReachedException",
    "Lambda.SubnetIPAddressLimitReachedException",
];
