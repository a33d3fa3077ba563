// SPDX-License-Identifier: MIT
// The EVM twin of aci_ref/aivm/contracts/marketplace.wat together with the chain processors its
// opcodes run (RequestQuote, AcceptQuote, SubmitResult, CastVote, Bond, Unbond), so that the
// gas of each Table 9 operation is measured on a contract doing the same work in plain EVM code.
//
// Ported from the Python reference: the HMM curve and worker choice (aci_ref/market/hmm.py), the
// Level 1 attestation check (aci_ref/poai/verification.py, tee.py), Table 5's fee split
// (aci_ref/economics/fees.py), the stake rules (aci_ref/economics/staking.py) and the tally
// (aci_ref/poai/votes.py). Ed25519 does not exist on the EVM: every signature our chain checks is
// a secp256k1 signature checked with ecrecover here, over keccak256 of the domain-tagged fields.
// Every number of the protocol comes from spec/parameters.toml through the constructor.
pragma solidity 0.8.28;

contract Marketplace {
    uint256 private constant BPS = 10_000;
    uint256 private constant MAX_WORD = type(uint64).max;
    uint256 private constant MS_PER_SECOND = 1000;
    // secp256k1 order / 2: a larger s is the malleable twin of a valid signature.
    uint256 private constant HALF_ORDER =
        0x7fffffffffffffffffffffffffffffff5d576e7357a4501ddfe92f46681b20a0;
    bytes32 private constant PLATFORM_DOMAIN = keccak256("aci-ref/tee/platform");
    bytes32 private constant ENCLAVE_DOMAIN = keccak256("aci-ref/tee/enclave");
    bytes32 private constant REGISTRATION_DOMAIN = keccak256("aci-ref/tee/registration");
    bytes32 private constant ATTESTATION_DOMAIN = keccak256("aci-ref/poai/attestation");
    bytes32 private constant VOTE_DOMAIN = keccak256("aci-ref/poai/vote");
    bytes32 private constant COMMITTEE_DOMAIN = keccak256("aci-ref/poai/committee");
    uint8 private constant VALIDATOR = 0;
    uint8 private constant VERIFIER = 1;
    uint8 private constant WORKER = 2;
    uint8 private constant LP = 3;

    /// The protocol parameters the twin needs, in the units of aci_ref.params (bps, ms, base units).
    struct Config {
        uint64 marketFeeBps;
        uint64 riskFeeBps;
        uint64 qualityNum;
        uint64 qualityDen;
        uint64 initialQualityBps;
        uint64 reserveBps;
        uint64 feeValidatorsBps;
        uint64 feeVerifiersBps;
        uint64 feeLpsBps;
        uint64 feeBurnBps;
        uint64 flopsToleranceBps;
        uint64 timeoutSlaMultiple;
        uint64 minSlaMs;
        uint64 maxSlaMs;
        uint64 maxInputBytes;
        uint64 samplingNum;
        uint64 samplingDen;
        uint64 committeeSize;
        uint64 quorumBps;
        uint64 slashWrongOutputBps;
        uint64 reporterRewardBps;
        uint64 unbondingDelayMs;
        uint64 workerStakePerUnit;
        uint64[4] minStake;
    }

    struct Sig {
        uint8 v;
        bytes32 r;
        bytes32 s;
    }

    /// A TEE certificate: `issuer` vouches for `subject` (and, for an enclave, its measurement).
    struct Cert {
        address issuer;
        address subject;
        bytes32 measurement;
        Sig sig;
    }

    /// Definition 2's statement with its certificate chain and the enclave's signature.
    struct Attestation {
        Cert platform;
        Cert enclave;
        uint256 jobId;
        bytes32 hInput;
        bytes32 hOutput;
        bytes32 hModel;
        uint64 tStartMs;
        uint64 durationMs;
        uint64 flops;
        uint64 memoryBytes;
        uint64 gpuUtilBps;
        Sig sig;
    }

    struct Pool {
        uint64 referencePrice;
        uint64 psi;
        uint64 psiIdle;
        uint64 theta;
        uint64 reserve;
        uint64 peakFlopsPerMs;
        uint64 lpShares;
        bool exists;
        uint64 memoryBytes;
    }

    struct Worker {
        uint64 capacity;
        uint64 inUse;
        uint64 queued;
        uint64 throughput;
        address enclaveKey;
        uint16 quality;
        uint32 pool;
        bool active;
    }

    struct Model {
        uint32 pool;
        uint32 units;
        uint64 flops;
        uint64 weightBytes;
        uint32 inputLength;
        bool exists;
    }

    enum Status {
        None,
        Quoted,
        Executing,
        Verifying,
        Settled,
        Refunded
    }

    struct Job {
        address client;
        uint64 price;
        Status status;
        address worker;
        uint64 units;
        uint32 pool;
        bytes32 modelHash;
        bytes32 inputHash;
        uint64 budget;
        uint64 slaMs;
        uint64 escrowedAtMs;
        uint64 deadlineMs;
        bytes32 outputHash;
    }

    /// A committee's tally: stake-weighted votes against the committee's stake at the draw.
    struct Tally {
        uint96 acceptWeight;
        uint96 rejectWeight;
        uint32 voted;
        uint8 votes;
        uint96 totalWeight;
        address firstAccuser;
    }

    struct Position {
        uint128 bonded;
        uint120 slashed;
        bool exists;
    }

    struct Unbonding {
        uint192 amount;
        uint64 releaseAtMs;
    }

    error NotOperator();
    error UnknownModel();
    error UnknownPool();
    error BadCapacity();
    error BadQuality();
    error NoWorker();
    error NoCapacity();
    error InsufficientLiquidity();
    error PoolOutOfRange();
    error SlippageExceeded(uint256 price, uint256 maxPrice);
    error BudgetExceeded();
    error SlaOutOfRange();
    error InputTooLarge();
    error InputUnrunnable();
    error InsufficientBalance();
    error NotJobClient();
    error NotJobWorker();
    error BadJobStatus();
    error BadCertChain();
    error UnknownMeasurement();
    error BadSignature();
    error WrongJob();
    error WrongInput();
    error WrongModel();
    error WrongOutput();
    error Stale();
    error MetricsInconsistent();
    error NotAVerifier();
    error DuplicateVote();
    error UnknownRole();
    error RoleNotStakeable();
    error NonPositiveAmount();
    error NoStake();
    error InsufficientStake();
    error StakeBelowMinimum();
    error NothingToWithdraw();
    error UnbondingNotMature();
    error WorkerExists();
    error UnknownWorker();
    error WorkerBusy();

    event JobSubmitted(uint256 indexed jobId, address indexed worker, uint256 price);
    event JobAttested(uint256 indexed jobId, bool sampled);
    event JobSettled(uint256 indexed jobId, uint256 workerShare);
    event JobRefunded(uint256 indexed jobId, uint256 slashed);

    address public immutable operator;
    uint256 private immutable marketFeeBps;
    uint256 private immutable riskFeeBps;
    uint256 private immutable qualityNum;
    uint256 private immutable qualityDen;
    uint256 private immutable initialQualityBps;
    uint256 private immutable reserveBps;
    uint256 private immutable feeValidatorsBps;
    uint256 private immutable feeVerifiersBps;
    uint256 private immutable feeLpsBps;
    uint256 private immutable feeBurnBps;
    uint256 private immutable flopsToleranceBps;
    uint256 private immutable timeoutSlaMultiple;
    uint256 private immutable minSlaMs;
    uint256 private immutable maxSlaMs;
    uint256 private immutable maxInputBytes;
    uint256 private immutable samplingNum;
    uint256 private immutable samplingDen;
    uint256 private immutable committeeSize;
    uint256 private immutable quorumBps;
    uint256 private immutable slashWrongOutputBps;
    uint256 private immutable reporterRewardBps;
    uint256 private immutable unbondingDelayMs;
    uint256 private immutable workerStakePerUnit;
    uint256 private immutable minStakeValidator;
    uint256 private immutable minStakeVerifier;
    uint256 private immutable minStakeWorker;
    uint256 private immutable minStakeLp;

    mapping(address => uint256) public balanceOf;
    uint256 public burned;
    /// Table 5's group shares awaiting their pro-rata payout (validators, verifiers, -, LPs).
    uint256[4] public rewardPool;
    uint256[4] public roleTotal;
    mapping(address => mapping(uint8 => Position)) public stakes;
    mapping(address => mapping(uint8 => Unbonding[])) private unbondings;
    address[] public verifierList;
    mapping(address => bool) private listed;

    mapping(address => bool) public trustedVendor;
    mapping(bytes32 => bool) public trustedMeasurement;
    mapping(uint256 => Pool) public pools;
    mapping(uint256 => address[]) private poolWorkers;
    mapping(address => Worker) public workers;
    mapping(bytes32 => Model) public models;

    uint256 public nextJobId = 1;
    mapping(uint256 => Job) public jobs;
    mapping(uint256 => Tally) public tallies;
    /// Each member of a job's committee packed as address | stake at the draw << 160.
    mapping(uint256 => uint256[]) private committees;

    constructor(Config memory c) {
        operator = msg.sender;
        marketFeeBps = c.marketFeeBps;
        riskFeeBps = c.riskFeeBps;
        qualityNum = c.qualityNum;
        qualityDen = c.qualityDen;
        initialQualityBps = c.initialQualityBps;
        reserveBps = c.reserveBps;
        feeValidatorsBps = c.feeValidatorsBps;
        feeVerifiersBps = c.feeVerifiersBps;
        feeLpsBps = c.feeLpsBps;
        feeBurnBps = c.feeBurnBps;
        flopsToleranceBps = c.flopsToleranceBps;
        timeoutSlaMultiple = c.timeoutSlaMultiple;
        minSlaMs = c.minSlaMs;
        maxSlaMs = c.maxSlaMs;
        maxInputBytes = c.maxInputBytes;
        samplingNum = c.samplingNum;
        samplingDen = c.samplingDen;
        committeeSize = c.committeeSize;
        quorumBps = c.quorumBps;
        slashWrongOutputBps = c.slashWrongOutputBps;
        reporterRewardBps = c.reporterRewardBps;
        unbondingDelayMs = c.unbondingDelayMs;
        workerStakePerUnit = c.workerStakePerUnit;
        minStakeValidator = c.minStake[VALIDATOR];
        minStakeVerifier = c.minStake[VERIFIER];
        minStakeWorker = c.minStake[WORKER];
        minStakeLp = c.minStake[LP];
    }

    modifier onlyOperator() {
        if (msg.sender != operator) revert NotOperator();
        _;
    }

    // ---- genesis: what our chain's Genesis holds (not measured) --------------------------------

    function mint(address to, uint256 amount) external onlyOperator {
        balanceOf[to] += amount;
    }

    function trust(address vendor, bytes32 measurement) external onlyOperator {
        trustedVendor[vendor] = true;
        trustedMeasurement[measurement] = true;
    }

    function createPool(uint256 id, uint64 price, uint64 peakFlopsPerMs, uint64 memoryBytes)
        external
        onlyOperator
    {
        if (price == 0) revert PoolOutOfRange();
        Pool storage p = pools[id];
        p.referencePrice = price;
        p.peakFlopsPerMs = peakFlopsPerMs;
        p.memoryBytes = memoryBytes;
        p.exists = true;
    }

    function registerModel(bytes32 hash, Model calldata m) external onlyOperator {
        if (!pools[m.pool].exists) revert UnknownPool();
        models[hash] = m;
        models[hash].exists = true;
    }

    /// Level 3's score as the chain moved it (the twin runs no quality update of its own).
    function setQuality(address who, uint16 quality) external onlyOperator {
        Worker storage w = workers[who];
        if (!w.active) revert UnknownWorker();
        if (quality > BPS) revert BadQuality();
        Pool storage p = pools[w.pool];
        (uint256 free, uint256 total) = _supply(p);
        free = free - uint256(w.capacity - w.inUse) * w.quality + uint256(w.capacity - w.inUse) * quality;
        total = total - uint256(w.capacity) * w.quality + uint256(w.capacity) * quality;
        w.quality = quality;
        _reprice(p, free, total);
    }

    // ---- the HMM (aci_ref/market/hmm.py) --------------------------------------------------------

    function _ceilDiv(uint256 a, uint256 b) private pure returns (uint256) {
        return a == 0 ? 0 : (a - 1) / b + 1;
    }

    function _supply(Pool storage p) private view returns (uint256 free, uint256 total) {
        free = p.psi - p.reserve;
        total = p.psiIdle - p.reserve;
    }

    /// hmm.reprice: Ψ, Ψ_idle and R from the worker sums, Θ re-anchored at the pool's price.
    function _reprice(Pool storage p, uint256 free, uint256 total) private {
        uint256 reserve = _ceilDiv(total * reserveBps, BPS);
        uint256 psi = free + reserve;
        uint256 psiIdle = total + reserve;
        uint256 theta = psi == 0 ? 0 : _ceilDiv(uint256(p.referencePrice) * psiIdle * psiIdle, BPS * psi);
        if (psiIdle > MAX_WORD || theta > MAX_WORD) revert PoolOutOfRange();
        p.psi = uint64(psi);
        p.psiIdle = uint64(psiIdle);
        p.reserve = uint64(reserve);
        p.theta = uint64(theta);
    }

    /// hmm.choose_worker then hmm.job_price: the quote's worker, its ΔΨ and the price.
    function _quote(uint256 poolId, uint256 units)
        private
        view
        returns (uint256 price, address chosen, uint256 deltaPsi)
    {
        Pool storage p = pools[poolId];
        if (!p.exists) revert UnknownPool();
        if (units == 0) revert BadCapacity();
        address[] storage list = poolWorkers[poolId];
        bool anyGood;
        uint256 bestEta;
        uint256 bestQuality;
        for (uint256 i = 0; i < list.length; i++) {
            address who = list[i];
            Worker storage w = workers[who];
            uint256 q = w.quality;
            if (q == 0 || q * qualityDen < qualityNum * BPS) continue;
            anyGood = true;
            if (w.capacity - w.inUse < units) continue;
            uint256 eta = _ceilDiv((w.queued + units) * MS_PER_SECOND, w.throughput);
            bool better = chosen == address(0) || eta < bestEta
                || (eta == bestEta && (q > bestQuality || (q == bestQuality && who < chosen)));
            if (better) {
                (chosen, bestEta, bestQuality) = (who, eta, q);
            }
        }
        if (!anyGood) revert NoWorker();
        if (chosen == address(0)) revert NoCapacity();
        deltaPsi = units * bestQuality;
        price = _jobPrice(p, deltaPsi);
    }

    /// hmm.swap_cost plus the market and risk fees, each rounded up against the buyer.
    function _jobPrice(Pool storage p, uint256 deltaPsi) private view returns (uint256 price) {
        uint256 psi = p.psi;
        if (deltaPsi == 0 || deltaPsi >= psi) revert InsufficientLiquidity();
        uint256 idle = p.psiIdle;
        uint256 cost = _ceilDiv(uint256(p.referencePrice) * idle * idle * deltaPsi, BPS * psi * (psi - deltaPsi));
        // price ≥ cost, so a cost past 2^64 − 1 is already out of range (and the fees below fit).
        if (cost > MAX_WORD) revert PoolOutOfRange();
        price = cost + _ceilDiv(cost * marketFeeBps, BPS) + _ceilDiv(cost * riskFeeBps * deltaPsi, BPS * psi);
        if (price > MAX_WORD) revert PoolOutOfRange();
    }

    /// hmm.buy after the quote: the worker holds the units, Ψ falls by ΔΨ on the same κ.
    function _buy(uint256 poolId, address chosen, uint256 units, uint256 deltaPsi) private {
        Pool storage p = pools[poolId];
        uint256 psi = p.psi - deltaPsi;
        uint256 idle = p.psiIdle;
        uint256 theta = _ceilDiv(uint256(p.referencePrice) * idle * idle, BPS * psi);
        if (theta > MAX_WORD) revert PoolOutOfRange();
        p.psi = uint64(psi);
        p.theta = uint64(theta);
        Worker storage w = workers[chosen];
        w.inUse += uint64(units);
        w.queued += uint64(units);
    }

    /// hmm.release: the job's units come back to its worker at the worker's present quality.
    function _release(Job storage job) private {
        Worker storage w = workers[job.worker];
        uint64 units = job.units;
        w.inUse -= units;
        w.queued -= units < w.queued ? units : w.queued;
        Pool storage p = pools[job.pool];
        uint256 psi = uint256(p.psi) + uint256(units) * w.quality;
        uint256 idle = p.psiIdle;
        p.psi = uint64(psi);
        p.theta = uint64(_ceilDiv(uint256(p.referencePrice) * idle * idle, BPS * psi));
    }

    /// The current quote for one job of `modelHash`: (price, worker), as hmm.quote gives it.
    function quote(bytes32 modelHash) external view returns (uint256 price, address worker) {
        Model storage m = models[modelHash];
        if (!m.exists) revert UnknownModel();
        (price, worker,) = _quote(m.pool, m.units);
    }

    // ---- jobs: RequestQuote, AcceptQuote (aci_ref/chain/jobs.py) --------------------------------

    function _checkRequest(bytes32 modelHash, bytes calldata input, uint256 slaMs)
        private
        view
        returns (Model storage m)
    {
        m = models[modelHash];
        if (!m.exists) revert UnknownModel();
        if (slaMs < minSlaMs || slaMs > maxSlaMs) revert SlaOutOfRange();
        if (input.length > maxInputBytes) revert InputTooLarge();
        if (input.length != m.inputLength || input.length % 32 != 0) revert InputUnrunnable();
        _requireFiniteFloats(input);
    }

    /// check_input's float32 rule: no little-endian float32 of the input has an all-ones exponent.
    function _requireFiniteFloats(bytes calldata input) private pure {
        // Per 4-byte lane (b0 b1 b2 b3, value b3b2b1b0) the exponent is b3's low 7 bits and b2's
        // top bit; a lane that equals the mask after masking is an infinity or a NaN.
        uint256 mask = 0x0000807f0000807f0000807f0000807f0000807f0000807f0000807f0000807f;
        uint256 ones = 0x0000000100000001000000010000000100000001000000010000000100000001;
        uint256 tops = 0x8000000080000000800000008000000080000000800000008000000080000000;
        for (uint256 at = 0; at < input.length; at += 32) {
            uint256 word = uint256(bytes32(input[at:at + 32]));
            uint256 x = (word & mask) ^ mask; // a zero lane is a non-finite float
            unchecked {
                if (((x - ones) & ~x & tops) != 0) revert InputUnrunnable();
            }
        }
    }

    function _debit(address who, uint256 amount) private {
        uint256 balance = balanceOf[who];
        if (balance < amount) revert InsufficientBalance();
        balanceOf[who] = balance - amount;
    }

    function _nowMs() private view returns (uint256) {
        return block.timestamp * MS_PER_SECOND;
    }

    /// The worker fills the job: units bought on the curve, the price moved into escrow.
    function _fill(Job storage job, uint256 jobId, uint256 maxPrice) private {
        (uint256 price, address chosen, uint256 deltaPsi) = _quote(job.pool, job.units);
        if (price > maxPrice) revert SlippageExceeded(price, maxPrice);
        _buy(job.pool, chosen, job.units, deltaPsi);
        _debit(job.client, price);
        uint256 now_ = _nowMs();
        job.worker = chosen;
        job.price = uint64(price);
        job.status = Status.Executing;
        job.escrowedAtMs = uint64(now_);
        job.deadlineMs = uint64(now_ + timeoutSlaMultiple * job.slaMs);
        emit JobSubmitted(jobId, chosen, price);
    }

    function _newJob(bytes32 modelHash, bytes calldata input, uint256 slaMs, uint256 budget)
        private
        returns (uint256 jobId, Job storage job)
    {
        Model storage m = _checkRequest(modelHash, input, slaMs);
        jobId = nextJobId++;
        job = jobs[jobId];
        job.client = msg.sender;
        job.units = m.units;
        job.pool = m.pool;
        job.modelHash = modelHash;
        job.inputHash = sha256(input);
        job.budget = uint64(budget);
        job.slaMs = uint64(slaMs);
    }

    /// Listing 1's submitJob: quote, require(price <= maxPrice), escrow, buy, record the job.
    function submitJob(bytes32 modelHash, bytes calldata input, uint64 slaMs, uint64 maxPrice)
        external
        returns (uint256 jobId)
    {
        Job storage job;
        (jobId, job) = _newJob(modelHash, input, slaMs, maxPrice);
        _fill(job, jobId, maxPrice);
    }

    /// RequestQuote alone: the job is recorded at the quoted price and worker, nothing is bought.
    function requestQuote(bytes32 modelHash, bytes calldata input, uint64 slaMs, uint64 budget)
        external
        returns (uint256 jobId)
    {
        Job storage job;
        (jobId, job) = _newJob(modelHash, input, slaMs, budget);
        (uint256 price, address chosen,) = _quote(job.pool, job.units);
        if (price > budget) revert BudgetExceeded();
        job.worker = chosen;
        job.price = uint64(price);
        job.status = Status.Quoted;
    }

    /// HMM_SWAP (AcceptQuote): the quoted job is filled on the curve as it is now, escrow locked.
    function swap(uint256 jobId, uint64 maxPrice) external {
        Job storage job = jobs[jobId];
        if (job.client != msg.sender) revert NotJobClient();
        if (job.status != Status.Quoted) revert BadJobStatus();
        if (maxPrice > job.budget) revert BudgetExceeded();
        _fill(job, jobId, maxPrice);
    }

    // ---- TEE chain and Level 1 (aci_ref/poai/tee.py, verification.py) --------------------------

    function _signedBy(bytes32 digest, Sig calldata sig, address expected) private pure returns (bool) {
        if (expected == address(0) || uint256(sig.s) > HALF_ORDER) return false;
        return ecrecover(digest, sig.v, sig.r, sig.s) == expected;
    }

    /// tee.verify_chain: vendor root → platform key → enclave key and measurement (two signatures).
    function _verifyChain(Cert calldata platform, Cert calldata enclave) private view returns (address) {
        if (!trustedVendor[platform.issuer]) revert BadCertChain();
        bytes32 statement = keccak256(abi.encode(PLATFORM_DOMAIN, platform.issuer, platform.subject, platform.measurement));
        if (!_signedBy(statement, platform.sig, platform.issuer)) revert BadCertChain();
        if (enclave.issuer != platform.subject) revert BadCertChain();
        statement = keccak256(abi.encode(ENCLAVE_DOMAIN, enclave.issuer, enclave.subject, enclave.measurement));
        if (!_signedBy(statement, enclave.sig, enclave.issuer)) revert BadCertChain();
        if (!trustedMeasurement[enclave.measurement]) revert UnknownMeasurement();
        return enclave.subject;
    }

    function _attestationDigest(Attestation calldata a) private pure returns (bytes32) {
        return keccak256(
            abi.encode(
                ATTESTATION_DOMAIN, a.jobId, a.hInput, a.hOutput, a.hModel, a.tStartMs, a.durationMs,
                a.flops, a.memoryBytes, a.gpuUtilBps
            )
        );
    }

    /// check_metrics: claimed FLOPs near the model's, a duration the hardware allows, sane memory.
    function _checkMetrics(Attestation calldata a, Job storage job) private view {
        Model storage m = models[job.modelHash];
        Pool storage p = pools[job.pool];
        uint256 known = m.flops;
        uint256 gap = a.flops > known ? a.flops - known : known - a.flops;
        if (a.gpuUtilBps > BPS || gap * BPS > flopsToleranceBps * known) revert MetricsInconsistent();
        if (a.durationMs < _ceilDiv(a.flops, p.peakFlopsPerMs)) revert MetricsInconsistent();
        if (a.memoryBytes < m.weightBytes || a.memoryBytes > p.memoryBytes) revert MetricsInconsistent();
    }

    /// HASH_COMPARE: the attested model hash is the job's.
    function _hashCompare(bytes32 a, bytes32 b) private pure returns (bool) {
        return a == b;
    }

    /// Listing 1's settleJob: the worker's result passes Level 1, then Algorithm 2's draw; an
    /// undrawn job settles at once (escrow released by Table 5), a drawn one gets its committee.
    function settleJob(uint256 jobId, bytes calldata output, Attestation calldata a) external {
        Job storage job = jobs[jobId];
        if (msg.sender != job.worker || job.status == Status.Quoted) revert NotJobWorker();
        if (job.status != Status.Executing) revert BadJobStatus();
        address enclaveKey = _verifyChain(a.platform, a.enclave);
        if (enclaveKey != workers[job.worker].enclaveKey) revert BadCertChain();
        if (!_signedBy(_attestationDigest(a), a.sig, enclaveKey)) revert BadSignature();
        if (a.jobId != jobId) revert WrongJob();
        if (a.hInput != job.inputHash) revert WrongInput();
        if (!_hashCompare(a.hModel, job.modelHash)) revert WrongModel();
        if (a.hOutput != sha256(output)) revert WrongOutput();
        if (a.tStartMs < job.escrowedAtMs) revert Stale();
        if (uint256(a.tStartMs) + a.durationMs > job.deadlineMs) revert Stale();
        _checkMetrics(a, job);
        job.outputHash = a.hOutput;
        bool sampled = uint256(sha256(abi.encode(block.prevrandao, jobId))) % samplingDen < samplingNum;
        emit JobAttested(jobId, sampled);
        if (sampled) {
            _drawCommittee(jobId, job.worker);
            job.status = Status.Verifying;
        } else {
            _settle(jobId, job);
        }
    }

    // ---- escrow release, refund, slash (aci_ref/economics/fees.py, chain/steps.py) -------------

    /// fees.settle_escrow: Table 5's floors for four groups, the rest to the worker; a group with
    /// no stake to pay has its share burned (E31), the verifiers' goes to their pool.
    function _settle(uint256 jobId, Job storage job) private {
        uint256 price = job.price;
        uint256 validators = price * feeValidatorsBps / BPS;
        uint256 verifiers = price * feeVerifiersBps / BPS;
        uint256 lps = price * feeLpsBps / BPS;
        uint256 burn = price * feeBurnBps / BPS;
        uint256 workerShare = price - validators - verifiers - lps - burn;
        balanceOf[job.worker] += workerShare;
        if (roleTotal[VALIDATOR] > 0) rewardPool[VALIDATOR] += validators;
        else burn += validators;
        rewardPool[VERIFIER] += verifiers;
        if (pools[job.pool].lpShares > 0) rewardPool[LP] += lps;
        else burn += lps;
        burned += burn;
        _release(job);
        job.status = Status.Settled;
        emit JobSettled(jobId, workerShare);
    }

    /// The committee found the output wrong: the client's escrow comes back whole, the worker's
    /// stake is slashed for a wrong output and the first accuser takes the reporter's share.
    function _convict(uint256 jobId, Job storage job, address reporter) private {
        balanceOf[job.client] += job.price;
        _release(job);
        job.status = Status.Refunded;
        uint256 amount = reporter == address(0) ? 0 : _slash(job.worker, WORKER, slashWrongOutputBps);
        if (amount > 0) {
            uint256 reward = amount * reporterRewardBps / BPS;
            balanceOf[reporter] += reward;
            burned += amount - reward;
        }
        emit JobRefunded(jobId, amount);
    }

    /// slashing.slash's take: floor(held · rate / 10^4), from bonded stake first, then from the
    /// unbonding entries, newest first.
    function _slash(address who, uint8 role, uint256 rateBps) private returns (uint256 amount) {
        Position storage pos = stakes[who][role];
        Unbonding[] storage queue = unbondings[who][role];
        uint256 held = pos.bonded;
        for (uint256 i = 0; i < queue.length; i++) held += queue[i].amount;
        amount = held * rateBps / BPS;
        uint256 fromBonded = amount < pos.bonded ? amount : pos.bonded;
        pos.bonded -= uint128(fromBonded);
        pos.slashed += uint120(amount);
        roleTotal[role] -= fromBonded;
        uint256 rest = amount - fromBonded;
        for (uint256 i = queue.length; i > 0 && rest > 0; i--) {
            Unbonding storage entry = queue[i - 1];
            uint256 cut = rest < entry.amount ? rest : entry.amount;
            entry.amount -= uint192(cut);
            rest -= cut;
        }
    }

    // ---- committee and votes (aci_ref/poai/votes.py, chain/votes.py) ---------------------------

    /// votes.committee in spirit: `committeeSize` verifiers drawn by stake from the block's
    /// randomness, the worker excluded, each pick leaving the pool; stakes kept as drawn (E56).
    function _drawCommittee(uint256 jobId, address worker) private {
        uint256 n = verifierList.length;
        uint256[] memory weight = new uint256[](n);
        uint256 remaining;
        for (uint256 i = 0; i < n; i++) {
            address who = verifierList[i];
            if (who != worker) weight[i] = stakes[who][VERIFIER].bonded;
            remaining += weight[i];
        }
        uint256[] storage members = committees[jobId];
        uint256 total;
        for (uint256 round = 0; round < committeeSize && remaining > 0; round++) {
            uint256 d = uint256(sha256(abi.encode(COMMITTEE_DOMAIN, block.prevrandao, jobId, round))) % remaining;
            uint256 i = 0;
            while (d >= weight[i]) d -= weight[i++];
            members.push(uint256(uint160(verifierList[i])) | (weight[i] << 160));
            total += weight[i];
            remaining -= weight[i];
            weight[i] = 0;
        }
        tallies[jobId].totalWeight = uint96(total);
    }

    /// The `index`-th member of a job's committee (for whoever must know whom to ask for a vote).
    function committeeMember(uint256 jobId, uint256 index) external view returns (address) {
        return address(uint160(committees[jobId][index]));
    }

    /// Algorithm 1 line 12: a member's signed verdict, weighed by its stake at the draw; the vote
    /// that reaches the quorum settles the job or convicts its worker; all voted and no quorum
    /// refunds the client with no one slashed (nothing was proven).
    function castVote(uint256 jobId, bool accept, Sig calldata sig) external {
        Job storage job = jobs[jobId];
        if (job.status != Status.Verifying) revert BadJobStatus();
        bytes32 statement = keccak256(abi.encode(VOTE_DOMAIN, jobId, msg.sender, accept));
        if (!_signedBy(statement, sig, msg.sender)) revert BadSignature();
        uint256[] storage members = committees[jobId];
        uint256 n = members.length;
        uint256 i = 0;
        while (i < n && address(uint160(members[i])) != msg.sender) i++;
        if (i == n) revert NotAVerifier();
        Tally storage t = tallies[jobId];
        if (t.voted & (1 << i) != 0) revert DuplicateVote();
        uint96 weight = uint96(members[i] >> 160);
        t.voted |= uint32(1 << i);
        t.votes += 1;
        if (accept) {
            t.acceptWeight += weight;
        } else {
            t.rejectWeight += weight;
            if (t.firstAccuser == address(0)) t.firstAccuser = msg.sender;
        }
        uint256 total = t.totalWeight;
        if (total > 0 && uint256(t.acceptWeight) * BPS >= quorumBps * total) {
            _settle(jobId, job);
        } else if (total > 0 && uint256(t.rejectWeight) * BPS >= quorumBps * total) {
            _convict(jobId, job, t.firstAccuser);
        } else if (t.votes == n) {
            _convict(jobId, job, address(0));
        }
    }

    // ---- stake (aci_ref/economics/staking.py, chain/stake.py) -----------------------------------

    function _required(uint8 role, address who) private view returns (uint256) {
        if (role == VALIDATOR) return minStakeValidator;
        if (role == VERIFIER) return minStakeVerifier;
        if (role == LP) return minStakeLp;
        uint256 byCapacity = uint256(workers[who].capacity) * workerStakePerUnit;
        return byCapacity > minStakeWorker ? byCapacity : minStakeWorker;
    }

    function _bond(address who, uint8 role, uint256 amount) private {
        if (amount == 0) revert NonPositiveAmount();
        _debit(who, amount);
        Position storage pos = stakes[who][role];
        uint256 backing = pos.bonded + amount;
        if (backing < _required(role, who)) revert StakeBelowMinimum();
        pos.bonded = uint128(backing);
        pos.exists = true;
        roleTotal[role] += amount;
        if (role == VERIFIER && !listed[who]) {
            listed[who] = true;
            verifierList.push(who);
        }
    }

    /// Bond: stake `amount` in a role (0 validator, 1 verifier, 2 a registered worker's top-up).
    function stake(uint8 role, uint256 amount) external {
        if (role > LP) revert UnknownRole();
        if (role == LP) revert RoleNotStakeable();
        if (role == WORKER && !workers[msg.sender].active) revert UnknownWorker();
        _bond(msg.sender, role, amount);
    }

    /// Unbond: the amount leaves the role into the unbonding queue until the delay has passed;
    /// what stays must be nothing or the role's required stake. A worker leaving leaves its pool.
    function unstake(uint8 role, uint256 amount) external {
        if (role > LP) revert UnknownRole();
        if (role == LP) revert RoleNotStakeable();
        if (amount == 0) revert NonPositiveAmount();
        Position storage pos = stakes[msg.sender][role];
        if (!pos.exists) revert NoStake();
        if (amount > pos.bonded) revert InsufficientStake();
        uint256 left = pos.bonded - amount;
        if (left > 0 && left < _required(role, msg.sender)) revert StakeBelowMinimum();
        pos.bonded = uint128(left);
        roleTotal[role] -= amount;
        unbondings[msg.sender][role].push(Unbonding(uint192(amount), uint64(_nowMs() + unbondingDelayMs)));
        if (role == WORKER && left == 0) _leavePool(msg.sender);
    }

    /// Withdraw: every matured unbonding entry returns to the balance; the others keep their order.
    function withdraw(uint8 role) external {
        Unbonding[] storage queue = unbondings[msg.sender][role];
        if (queue.length == 0) revert NothingToWithdraw();
        uint256 now_ = _nowMs();
        uint256 paid;
        uint256 kept;
        for (uint256 i = 0; i < queue.length; i++) {
            Unbonding memory entry = queue[i];
            if (entry.releaseAtMs <= now_) paid += entry.amount;
            else queue[kept++] = entry;
        }
        if (kept == queue.length) revert UnbondingNotMature();
        while (queue.length > kept) queue.pop();
        balanceOf[msg.sender] += paid;
    }

    function unbondingOf(address who, uint8 role) external view returns (Unbonding[] memory) {
        return unbondings[who][role];
    }

    // ---- workers and liquidity (not measured: setup of the scenario) ----------------------------

    /// RegisterWorker: a TEE identity proven by its enclave's signature of the worker's address,
    /// bonded at `stake` or the stake its capacity requires, joining its pool at the first score.
    function registerWorker(
        uint32 poolId,
        uint64 capacity,
        uint64 throughput,
        uint256 amount,
        Cert calldata platform,
        Cert calldata enclave,
        Sig calldata proof
    ) external {
        Pool storage p = pools[poolId];
        if (!p.exists) revert UnknownPool();
        if (workers[msg.sender].active) revert WorkerExists();
        if (capacity == 0 || throughput == 0) revert BadCapacity();
        address enclaveKey = _verifyChain(platform, enclave);
        bytes32 statement = keccak256(abi.encode(REGISTRATION_DOMAIN, msg.sender));
        if (!_signedBy(statement, proof, enclaveKey)) revert BadSignature();
        uint16 quality = uint16(initialQualityBps);
        workers[msg.sender] = Worker(capacity, 0, 0, throughput, enclaveKey, quality, poolId, true);
        _bond(msg.sender, WORKER, amount == 0 ? _required(WORKER, msg.sender) : amount);
        poolWorkers[poolId].push(msg.sender);
        (uint256 free, uint256 total) = _supply(p);
        _reprice(p, free + uint256(capacity) * quality, total + uint256(capacity) * quality);
    }

    function _leavePool(address who) private {
        Worker storage w = workers[who];
        if (w.inUse > 0) revert WorkerBusy();
        Pool storage p = pools[w.pool];
        address[] storage list = poolWorkers[w.pool];
        uint256 i = 0;
        while (list[i] != who) i++;
        list[i] = list[list.length - 1];
        list.pop();
        (uint256 free, uint256 total) = _supply(p);
        uint256 share = uint256(w.capacity) * w.quality;
        w.active = false;
        _reprice(p, free - share, total - share);
    }

    /// DepositLiquidity: LP stake bonded and minted one share per base unit (E46).
    function depositLiquidity(uint32 poolId, uint256 amount) external {
        Pool storage p = pools[poolId];
        if (!p.exists) revert UnknownPool();
        _bond(msg.sender, LP, amount);
        if (uint256(p.lpShares) + amount > MAX_WORD) revert PoolOutOfRange();
        p.lpShares += uint64(amount);
    }
}
