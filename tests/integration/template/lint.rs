//! Both templates pass `cfn-lint` (what `sam validate --lint` runs, SAM
//! transform included) for the IAM region of every partition.

use super::{FORWARD, IAM_REGIONS, MAIN, run_tool};

#[test]
fn cfn_lint_passes_on_both_templates_in_the_iam_region_of_every_partition() {
    let mut args = vec!["--regions"];
    args.extend(IAM_REGIONS);
    args.extend(["--", MAIN, FORWARD]);
    let out = run_tool("cfn-lint", &args, "pip install cfn-lint");
    assert!(
        out.status.success(),
        "cfn-lint found problems:\n{}{}",
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
}
