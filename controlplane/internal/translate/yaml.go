package translate

import (
	"encoding/json"
	"fmt"

	"google.golang.org/protobuf/encoding/protojson"
	"google.golang.org/protobuf/proto"
	"sigs.k8s.io/yaml"
)

// ToJSON renders a resource the way Envoy's own config dump does: proto
// field names, Any fields expanded with their @type.
func ToJSON(m proto.Message) (json.RawMessage, error) {
	b, err := protojson.MarshalOptions{UseProtoNames: true}.Marshal(m)
	if err != nil {
		return nil, fmt.Errorf("render %T: %w", m, err)
	}
	return b, nil
}

// ToYAML renders any JSON-marshalable value whose leaves may be resources
// (rendered with ToJSON first) as YAML with sorted keys, so output is stable
// across runs and protojson's randomized spacing.
func ToYAML(v any) ([]byte, error) {
	j, err := json.Marshal(v)
	if err != nil {
		return nil, err
	}
	return yaml.JSONToYAML(j)
}
