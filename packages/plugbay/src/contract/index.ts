// The contract module's public surface: snapshots, the breaking-change diff, the CI gate, implements checks.
export { bumpOf, type CheckFinding, type CheckResult, checkAgainst, type VersionBump } from './check.js';
export {
  type Change,
  type DiffOptions,
  type DiffResult,
  diffSchemas,
  type Side,
  type Verdict,
} from './diff.js';
export { diffSide, diffSnapshots } from './gate.js';
export {
  type ContractRegistry,
  checkDeclaredContracts,
  checkImplements,
  type ImplementsOptions,
  type ImplementsResult,
} from './implements.js';
export {
  type ContractSnapshot,
  type JsonSchema,
  parseSnapshot,
  readSnapshotFile,
  snapshotOf,
  snapshotToJson,
  writeSnapshotFile,
} from './snapshot.js';
export { findWitness, formatWitness, type Witness, type WitnessOptions } from './witness.js';
