//! Whether Cognito said that the record a lookup named does not exist, or the pool.
//!
//! A lookup of a record (GetGroup, ListUsersInGroup, AdminGetUser, AdminListGroupsForUser,
//! DescribeUserPoolClient, DescribeIdentityProvider) that finds none is no row, as a listing
//! would not return it; a missing pool stays an error, as it is for a listing. Cognito sends
//! both under ResourceNotFoundException, so the message tells them apart.

use aws_sdk_cognitoidentityprovider::error::{ProvideErrorMetadata, SdkError};

/// Whether `err` says the record asked for is missing, rather than the user pool `pool`.
///
/// A missing user is UserNotFoundException. For a missing pool AWS says "User pool <id> does
/// not exist."; for a record "Group not found." or "User pool client <id> does not exist."
/// (moto: the record's name alone). So only a message naming this pool ("user pool <id>", in
/// any case) is the pool's: neither "pool" anywhere (a group may be named `carpool`) nor "user
/// pool " (a client's message has it).
pub fn names_a_missing_record<E: ProvideErrorMetadata, R>(
    err: &SdkError<E, R>,
    pool: &str,
) -> bool {
    let SdkError::ServiceError(context) = err else {
        return false;
    };
    let err = context.err();
    match err.code() {
        Some("UserNotFoundException") => true,
        Some("ResourceNotFoundException") => {
            let message = err.message().unwrap_or_default().to_lowercase();
            !message.contains(&format!("user pool {}", pool.to_lowercase()))
        }
        _ => false,
    }
}

#[cfg(test)]
mod tests {
    use aws_sdk_cognitoidentityprovider::operation::get_group::GetGroupError;
    use aws_smithy_runtime_api::client::orchestrator::HttpResponse;
    use aws_smithy_runtime_api::http::StatusCode;
    use aws_smithy_types::body::SdkBody;
    use aws_smithy_types::error::ErrorMetadata;

    use super::*;

    const POOL: &str = "us-east-1_Pool1";

    fn missing(code: &str, message: Option<&str>) -> bool {
        let mut meta = ErrorMetadata::builder().code(code);
        if let Some(message) = message {
            meta = meta.message(message);
        }
        let raw = HttpResponse::new(StatusCode::try_from(400).unwrap(), SdkBody::empty());
        let err = SdkError::service_error(GetGroupError::generic(meta.build()), raw);
        names_a_missing_record(&err, POOL)
    }

    #[test]
    fn a_missing_record_is_told_from_a_missing_pool() {
        let record = "ResourceNotFoundException";
        for message in [
            "Group not found.",
            "User pool client abc123 does not exist.",
            "Identity provider nobody does not exist.",
            // moto: the name alone, which may hold "pool" or "user pool".
            "carpool",
            "user pool",
            "user pool us-east-1_Other does not exist.",
        ] {
            assert!(missing(record, Some(message)), "{message}");
        }
        assert!(missing(record, None));
        assert!(missing(
            "UserNotFoundException",
            Some("User does not exist.")
        ));
        for message in [
            "User pool us-east-1_Pool1 does not exist.",
            "user pool US-EAST-1_POOL1 does not exist",
        ] {
            assert!(!missing(record, Some(message)), "{message}");
        }
        // Other failures are failures.
        assert!(!missing(
            "InvalidParameterException",
            Some("Group not found.")
        ));
        assert!(!missing("NotAuthorizedException", None));
        let timeout: SdkError<GetGroupError, HttpResponse> = SdkError::timeout_error("slow");
        assert!(!names_a_missing_record(&timeout, POOL));
    }
}
