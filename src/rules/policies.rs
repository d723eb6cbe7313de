//! Facts about policy ARNs and names that several rules (and the
//! remediations' guards) share.

/// AWS partitions (the second field of an ARN) where AWS managed policies
/// live in the account `aws`.
pub const PARTITIONS: [&str; 8] = [
    "aws",
    "aws-cn",
    "aws-us-gov",
    "aws-iso",
    "aws-iso-b",
    "aws-iso-e",
    "aws-iso-f",
    "aws-eusc",
];

/// The path and name (`job-function/ViewOnlyAccess`) of an AWS managed
/// policy ARN, in any partition; `None` for any other ARN. Only the account
/// `aws` holds AWS managed policies: a customer can create a policy of the
/// same name in their own account, never there.
pub fn aws_managed_policy(arn: &str) -> Option<&str> {
    let rest = arn.strip_prefix("arn:")?;
    let (partition, rest) = rest.split_once(':')?;
    let path = rest.strip_prefix("iam::aws:policy/")?;
    (PARTITIONS.contains(&partition) && !path.is_empty()).then_some(path)
}

/// Is this the name of one of the policies AWS puts on a user to quarantine
/// exposed credentials (`AWSCompromisedKeyQuarantine`, `...V2`, `...V3`...,
/// `AWSExposedCredentialPolicy_DO_NOT_REMOVE`)? The name alone proves
/// nothing: anyone can give a policy of their own such a name.
pub fn is_quarantine_policy_name(name: &str) -> bool {
    name == "AWSExposedCredentialPolicy_DO_NOT_REMOVE"
        || name
            .strip_prefix("AWSCompromisedKeyQuarantine")
            .is_some_and(|v| {
                v.is_empty()
                    || v.strip_prefix('V')
                        .is_some_and(|n| !n.is_empty() && n.bytes().all(|b| b.is_ascii_digit()))
            })
}

/// Is this ARN an AWS managed quarantine policy (account `aws`, path `/`,
/// any partition)? These are never moved: moving one would undo AWS's
/// quarantine of a leaked key. A customer policy of the same name is not.
pub fn is_aws_quarantine_managed_policy(arn: &str) -> bool {
    aws_managed_policy(arn).is_some_and(is_quarantine_policy_name)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn quarantine_policies_are_aws_managed_arns_in_every_partition() {
        for arn in [
            "arn:aws:iam::aws:policy/AWSCompromisedKeyQuarantine",
            "arn:aws:iam::aws:policy/AWSCompromisedKeyQuarantineV2",
            "arn:aws-cn:iam::aws:policy/AWSCompromisedKeyQuarantineV3",
            "arn:aws-us-gov:iam::aws:policy/AWSExposedCredentialPolicy_DO_NOT_REMOVE",
        ] {
            assert!(is_aws_quarantine_managed_policy(arn), "{arn}");
        }
        for arn in [
            // A customer's policy named like AWS's: the name proves nothing.
            "arn:aws:iam::123456789012:policy/AWSCompromisedKeyQuarantineBackdoor",
            "arn:aws:iam::123456789012:policy/AWSCompromisedKeyQuarantineV2",
            "arn:aws:iam::aws:policy/AWSCompromisedKeyQuarantineBackdoor",
            "arn:aws:iam::aws:policy/some/path/AWSCompromisedKeyQuarantineV2",
            "arn:evil:iam::aws:policy/AWSCompromisedKeyQuarantineV2",
            "arn:aws:iam::aws:policy/ReadOnlyAccess",
            // A bare name is no ARN.
            "AWSCompromisedKeyQuarantineV2",
            "AWSExposedCredentialPolicy_DO_NOT_REMOVE",
        ] {
            assert!(!is_aws_quarantine_managed_policy(arn), "{arn}");
        }
    }

    #[test]
    fn quarantine_names_are_the_documented_ones_only() {
        for name in [
            "AWSCompromisedKeyQuarantine",
            "AWSCompromisedKeyQuarantineV2",
            "AWSCompromisedKeyQuarantineV12",
            "AWSExposedCredentialPolicy_DO_NOT_REMOVE",
        ] {
            assert!(is_quarantine_policy_name(name), "{name}");
        }
        for name in [
            "AWSCompromisedKeyQuarantineBackdoor",
            "AWSCompromisedKeyQuarantineV",
            "AWSCompromisedKeyQuarantineV9x",
            "awscompromisedkeyquarantinev2",
            "AWSExposedCredentialPolicy_DO_NOT_REMOVE2",
        ] {
            assert!(!is_quarantine_policy_name(name), "{name}");
        }
    }
}
