//! Workspace root: owns lua/, tests/ and examples/.
