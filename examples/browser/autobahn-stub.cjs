// Stands in for the modules Autobahn|JS needs only in Node.js or for the
// CBOR and MessagePack serializers, when scripts/setup-test-deps.sh
// bundles it for the browser (the page uses JSON).
module.exports = {};
