"""Freezing: for every model and every N, exactly the right parameters learn, in the right mode."""

import pytest
from torch import nn

from tlcore.models.catalog import get_spec, list_specs
from tlcore.errors import TLError
from tlcore.models.freeze import apply_freeze, backbone_is_frozen, param_groups, resolve_trainable, set_train_mode
from tlcore.models.net import Net, skeleton_backbone

BN = (nn.BatchNorm2d, nn.BatchNorm1d)


def _net(name):
    spec = get_spec(name)
    return spec, Net(skeleton_backbone(spec), spec.feature_dim, 4)


@pytest.mark.parametrize("name", [s.name for s in list_specs()])
@pytest.mark.parametrize("train_bn", [False, True])
def test_freeze_sets_requires_grad_and_batchnorm_mode_for_every_n(name, train_bn):
    spec, net = _net(name)
    n_stages = len(spec.stages)
    for n in range(n_stages + 1):
        apply_freeze(net, spec, n, train_bn)
        set_train_mode(net, spec, n, train_bn)
        first = n_stages - n
        for mname, module in net.backbone.named_modules():
            stage = spec.stage_of(mname)
            if stage is None:
                continue
            frozen = stage < first
            for p in module.parameters(recurse=False):
                expected = (not frozen) or (train_bn and isinstance(module, BN))
                assert p.requires_grad == expected, (name, n, mname)
            if isinstance(module, BN):
                assert module.training == ((not frozen) or train_bn), (name, n, mname)
            elif frozen:
                assert not module.training, (name, n, mname)
        assert all(p.requires_grad for p in net.head.parameters())
        assert net.head.training


def test_param_groups_give_pretrained_layers_the_smaller_rate():
    spec, net = _net("resnet18")
    apply_freeze(net, spec, 2, train_bn=False)
    groups = param_groups(net, lr=1e-3, backbone_lr_mult=0.1, weight_decay=0.01)
    by_name = {g["name"]: g for g in groups}
    assert by_name["head"]["lr"] == 1e-3
    assert by_name["backbone"]["lr"] == pytest.approx(1e-4)
    assert by_name["backbone (no decay)"]["weight_decay"] == 0.0
    trainable = {id(p) for p in net.parameters() if p.requires_grad}
    grouped = [id(p) for g in groups for p in g["params"]]
    assert sorted(grouped) == sorted(trainable)


def test_resolve_trainable_accepts_all_and_rejects_out_of_range():
    assert resolve_trainable("all", 7) == 7
    assert resolve_trainable(3, 7) == 3
    with pytest.raises(TLError, match="between 0 and 7"):
        resolve_trainable(8, 7)
    with pytest.raises(TLError):
        resolve_trainable("some", 7)
    assert backbone_is_frozen(get_spec("resnet18"), 0, train_bn=False)
    assert not backbone_is_frozen(get_spec("resnet18"), 0, train_bn=True)
